"""iqbench: does a query augmenter earn its extra input tokens once the retriever is fine-tuned?"""

__version__ = "0.1.0"

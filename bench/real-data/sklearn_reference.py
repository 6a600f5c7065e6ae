"""The reference learner for `npm run bench:real`: scikit-learn's RandomForestClassifier on the very
windows and split that `linepilot train --export-dataset` wrote (same features, same machines held
out, same hyperparameters), single-threaded like linepilot's forest. Prints one JSON line.

    python3 bench/real-data/sklearn_reference.py windows.csv TREES MAX_DEPTH MIN_LEAF SEED THRESHOLD
"""
import csv
import json
import sys
import time

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import precision_score, recall_score, roc_auc_score


def main() -> None:
    path, trees, depth, leaf, seed, threshold = sys.argv[1:7]
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header, data = rows[0], rows[1:]
    split = np.array([r[0] for r in data])
    y = np.array([int(r[3]) for r in data])
    x = np.array([[float(v) if v != "" else np.nan for v in r[4:]] for r in data], dtype=np.float32)
    x = np.nan_to_num(x, nan=0.0)
    train, held = split == "train", split == "holdout"
    model = RandomForestClassifier(
        n_estimators=int(trees),
        max_depth=int(depth),
        min_samples_leaf=int(leaf),
        max_features="sqrt",
        random_state=int(seed),
        n_jobs=1,
    )
    started = time.perf_counter()
    model.fit(x[train], y[train])
    seconds = time.perf_counter() - started
    p = model.predict_proba(x[held])[:, 1]
    predicted = (p >= float(threshold)).astype(int)
    print(
        json.dumps(
            {
                "learner": "scikit-learn RandomForestClassifier",
                "version": __import__("sklearn").__version__,
                "features": len(header) - 4,
                "train_windows": int(train.sum()),
                "holdout_windows": int(held.sum()),
                "auc": round(float(roc_auc_score(y[held], p)), 3),
                "precision": round(float(precision_score(y[held], predicted, zero_division=0)), 3),
                "recall": round(float(recall_score(y[held], predicted, zero_division=0)), 3),
                "threshold": float(threshold),
                "training_seconds": round(seconds, 2),
            }
        )
    )


main()

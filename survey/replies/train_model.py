"""Train the reason model (survey/replies/data/reason_model.yaml) from the labelled corpus.

    python -m survey.replies.train_model [--corpus FILE ...] [--extra FILE ...] [--out FILE]

Needs numpy, PyYAML and the parser (no database, no `touchpoint`). Trains on the corpora's training parts
(never their held-out parts, see survey.replies.corpus), on any extra labelled JSONL files (labels
from the review queue, exported in the same format) and on the reason lexicon's own phrases.
Deterministic: zero initial weights, full-batch steps in a fixed order. Two choices are made by
4-fold cross-validation on the training part alone: the confidence threshold, the lowest at which
the model's named reasons are right at least 90% of the time (below it, "other" is the safer
answer), and the arbitration ratio (see survey.replies.parser._arbitrate), the one with which the
whole parser reads the most held-back replies right.
"""
from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import yaml

from survey.definitions import load_surveys
from survey.reasons import REASON_CODES
from survey.replies.corpus import CORPORA, held_out_share, read_cases, split
from survey.replies.ngram_model import MODEL_FILE, NGRAM_SIZES, NgramModel, ngrams
from survey.replies.normalize import LEXICON_DIR, normalise
from survey.replies.parser import parse_reply
from survey.replies.scoring import is_hit

L2 = 3e-4
STEPS = 300
LEARNING_RATE = 0.5
LEXICON_WEIGHT = 0.5  # a bare phrase says less than a reply written by a customer
THRESHOLDS = (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7)
ARBITRATIONS = (0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.7)
FOLDS = 4
PRECISION = 0.9


def reply_samples(cases: list[dict]) -> list[tuple[str, str, float]]:
    """(normalised text, reason code, weight) for every labelled reply that names reasons."""
    samples = []
    for case in cases:
        gold = case["gold"]
        reasons = gold.get("reasons") or []
        if gold.get("kind") != "answer" or not reasons:
            continue
        norm = normalise(str(case["text"]))
        for code in reasons:  # a reply with two reasons teaches both
            samples.append((norm, code, 1.0 / len(reasons)))
    return samples


def lexicon_samples() -> list[tuple[str, str, float]]:
    """Each phrase of the reason lexicon as a short example of its reason."""
    data = yaml.safe_load((LEXICON_DIR / "reasons.yaml").read_text(encoding="utf-8"))
    samples = []
    for code in REASON_CODES:
        entry = data.get(code) or {}
        for section in ("strong", "negatable", "topics"):
            for phrase in entry.get(section) or []:
                samples.append((normalise(str(phrase)), code, LEXICON_WEIGHT))
    return samples


def fit(samples: list[tuple[str, str, float]], *, steps: int = STEPS) -> NgramModel:
    """Multinomial logistic regression with L2, full-batch Adam from zero weights."""
    classes = tuple(code for code in REASON_CODES if any(s[1] == code for s in samples))
    counts = Counter(gram for norm, _, _ in samples for gram in ngrams(norm))
    grams = sorted(gram for gram, n in counts.items() if n >= 2 or len(gram) == 1)
    vocabulary = {gram: i for i, gram in enumerate(grams)}
    x = np.zeros((len(samples), len(grams)), dtype=np.float32)
    y = np.zeros((len(samples), len(classes)), dtype=np.float32)
    weight = np.zeros(len(samples), dtype=np.float32)
    for row, (norm, code, w) in enumerate(samples):
        ids = [vocabulary[g] for g in ngrams(norm) if g in vocabulary]
        if ids:
            x[row, ids] = 1.0 / np.sqrt(len(ids))
        y[row, classes.index(code)] = 1.0
        weight[row] = w
    weight /= weight.sum()
    w_matrix = np.zeros((len(grams), len(classes)), dtype=np.float32)
    bias = np.zeros(len(classes), dtype=np.float32)
    moments = [np.zeros_like(w_matrix), np.zeros_like(w_matrix), np.zeros_like(bias), np.zeros_like(bias)]
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    for step in range(1, steps + 1):
        scores = x @ w_matrix + bias
        scores -= scores.max(axis=1, keepdims=True)
        p = np.exp(scores)
        p /= p.sum(axis=1, keepdims=True)
        error = (p - y) * weight[:, None]
        grads = (x.T @ error + L2 * w_matrix, error.sum(axis=0))
        for k, (param, grad) in enumerate(zip((w_matrix, bias), grads)):
            m, v = moments[2 * k], moments[2 * k + 1]
            m *= beta1
            m += (1 - beta1) * grad
            v *= beta2
            v += (1 - beta2) * grad * grad
            param -= LEARNING_RATE * 0.01 * (m / (1 - beta1 ** step)) / (np.sqrt(v / (1 - beta2 ** step)) + eps)
    return NgramModel(classes, vocabulary, w_matrix, bias, threshold=0.5, sizes=NGRAM_SIZES)


def cross_validate(cases: list[dict], extra: list[tuple[str, str, float]]) -> tuple[float, float]:
    """(threshold, arbitration ratio) chosen on models each trained without one fold of `cases`."""
    folds = [[c for i, c in enumerate(cases) if i % FOLDS == k] for k in range(FOLDS)]
    models = [fit(reply_samples([c for i, c in enumerate(cases) if i % FOLDS != k]) + extra) for k in range(FOLDS)]
    named, right = Counter(), Counter()
    for model, fold in zip(models, folds):
        for norm, code, _ in reply_samples(fold):
            prediction = model.predict(norm)
            for threshold in THRESHOLDS:
                if prediction.probability >= threshold and prediction.code != "other":
                    named[threshold] += 1
                    right[threshold] += prediction.code == code
    good = [t for t in THRESHOLDS if named[t] and right[t] / named[t] >= PRECISION]
    threshold = min(good) if good else max(THRESHOLDS)
    surveys = load_surveys()
    hits = Counter()
    for model, fold in zip(models, folds):
        for case in fold:
            question = surveys[case["survey"]].question(case["question"])
            for ratio in ARBITRATIONS:
                got = parse_reply(question, str(case["text"]), model=model.with_choices(threshold, ratio))
                hits[ratio] += is_hit(case["gold"], got)
    print(f"cross-validated hits of {sum(map(len, folds))} by arbitration ratio: {dict(hits)}")
    best = max(hits.values())
    return threshold, min(ratio for ratio in ARBITRATIONS if hits[ratio] == best)


def main(argv: list[str] | None = None) -> int:
    """Train and write the model; prints what it trained on."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, action="append",
                        help="labelled JSONL whose held-out part is kept out (default: the corpora)")
    parser.add_argument("--extra", type=Path, action="append", default=[], help="more labelled JSONL (all used)")
    parser.add_argument("--out", type=Path, default=MODEL_FILE)
    args = parser.parse_args(argv)
    training: list[dict] = []
    held_out: list[dict] = []
    for path in args.corpus or CORPORA:
        parts = split(list(read_cases(path)), held_out_share(path))
        training += parts[0]
        held_out += parts[1]
    extra_cases = [case for path in args.extra for case in read_cases(path)]
    extra = lexicon_samples() + reply_samples(extra_cases)
    threshold, arbitration = cross_validate(training, extra)
    model = fit(reply_samples(training) + extra).with_choices(threshold, arbitration)
    header = ("# Generated by `python -m survey.replies.train_model`: do not edit; retrain instead.\n"
              f"# Trained on {len(training)} corpus replies (not the {len(held_out)} held out), "
              f"{len(extra_cases)} extra labelled replies and the reason lexicon.\n")
    args.out.write_text(header + yaml.safe_dump(model.to_dict(), allow_unicode=True, width=120, sort_keys=False),
                        encoding="utf-8")
    print(f"{args.out}: {len(model.vocabulary)} n-grams x {len(model.classes)} classes, "
          f"threshold {threshold}, arbitration {arbitration}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The statistical fallback: a linear model over character n-grams that names a reason where the
lexicon is silent ("营业员问我你有什么事，我说了三遍她才听进去").

Trained by survey/replies/train_model.py on the labelled corpus and shipped as
survey/replies/data/reason_model.yaml (vocabulary, weights as base64 float16, bias), loaded once.
Prediction is a dictionary look-up per n-gram and a sum: deterministic, a few microseconds.
"""
from __future__ import annotations

import base64
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import yaml

from survey.replies.normalize import LEXICON_DIR

MODEL_FILE = LEXICON_DIR / "reason_model.yaml"
NGRAM_SIZES = (1, 2, 3)
_DIGIT = str.maketrans("0123456789", "0000000000")  # amounts differ, their shape counts
# The model reads a reply's first 140 characters (two SMS segments of Chinese): its cost stays
# bounded on any input, and real replies are far shorter (the longest in our corpora has 37).
MAX_CHARS = 140
DEFAULT_ARBITRATION = 0.1  # a model file older than the arbitration field: the ratio it was tuned with


def ngrams(norm: str, sizes: tuple[int, ...] = NGRAM_SIZES) -> set[str]:
    """Character n-grams of a normalised text, with its edges marked and digits folded."""
    text = f"^{norm.translate(_DIGIT)}$"
    grams: set[str] = set()
    for size in sizes:
        grams.update([text[i:i + size] for i in range(len(text) - size + 1)])
    grams.discard("^")
    grams.discard("$")
    return grams


@dataclass(frozen=True)
class Prediction:
    code: str
    probability: float


class NgramModel:
    """Multinomial logistic regression over binary n-gram features, rows scaled to unit length."""

    def __init__(self, classes: tuple[str, ...], vocabulary: dict[str, int], weights: np.ndarray,
                 bias: np.ndarray, threshold: float, sizes: tuple[int, ...] = NGRAM_SIZES,
                 arbitration: float = DEFAULT_ARBITRATION) -> None:
        self.classes = classes
        self.vocabulary = vocabulary
        self.weights = weights.astype(np.float32)
        self.bias = bias.astype(np.float32)
        self.threshold = threshold
        self.sizes = sizes
        self.arbitration = arbitration  # see survey.replies.parser._arbitrate

    def probabilities(self, norm: str) -> np.ndarray:
        """Class probabilities for a normalised text (the bias alone when no n-gram is known)."""
        ids = [i for gram in ngrams(norm[:MAX_CHARS], self.sizes) if (i := self.vocabulary.get(gram)) is not None]
        scores = self.bias.copy()
        if ids:
            scores += self.weights[ids].sum(axis=0) / np.sqrt(len(ids))
        scores -= scores.max()
        exp = np.exp(scores)
        return exp / exp.sum()

    def predict(self, norm: str) -> Prediction:
        """The most likely class and its probability."""
        probabilities = self.probabilities(norm)
        best = int(probabilities.argmax())
        return Prediction(self.classes[best], float(probabilities[best]))

    def with_choices(self, threshold: float, arbitration: float) -> "NgramModel":
        """The same weights with other cross-validated choices."""
        return NgramModel(self.classes, self.vocabulary, self.weights, self.bias, threshold, self.sizes, arbitration)

    def reason(self, norm: str) -> str | None:
        """A reason code when the model is confident enough, else None."""
        prediction = self.predict(norm)
        return prediction.code if prediction.probability >= self.threshold else None

    def to_dict(self) -> dict:
        """The model as plain data for the YAML file."""
        vocabulary = sorted(self.vocabulary, key=self.vocabulary.__getitem__)
        return {
            "format": 1,
            "ngram_sizes": list(self.sizes),
            "threshold": round(float(self.threshold), 4),
            "arbitration": round(float(self.arbitration), 4),
            "classes": list(self.classes),
            "bias": [round(float(b), 5) for b in self.bias],
            "vocabulary": vocabulary,
            "weights": base64.b64encode(self.weights.astype("<f2").tobytes()).decode("ascii"),
        }

    @classmethod
    def from_dict(cls, data: dict) -> "NgramModel":
        """Rebuild a model from to_dict() data; ValueError names what is wrong."""
        classes = tuple(data["classes"])
        vocabulary = {gram: i for i, gram in enumerate(data["vocabulary"])}
        weights = np.frombuffer(base64.b64decode(data["weights"]), dtype="<f2")
        if weights.size != len(vocabulary) * len(classes):
            raise ValueError(f"weights: expected {len(vocabulary)} x {len(classes)} values, got {weights.size}")
        return cls(classes, vocabulary, weights.reshape(len(vocabulary), len(classes)),
                   np.asarray(data["bias"], dtype=np.float32), float(data["threshold"]),
                   tuple(data.get("ngram_sizes", NGRAM_SIZES)), float(data.get("arbitration", DEFAULT_ARBITRATION)))


def load_model(path: Path = MODEL_FILE) -> NgramModel | None:
    """The model in a file, or None when there is none (the parser then relies on the lexicon)."""
    if not path.is_file():
        return None
    return NgramModel.from_dict(yaml.safe_load(path.read_text(encoding="utf-8")))


@cache
def reason_model() -> NgramModel | None:
    """The shipped model, loaded once per process."""
    return load_model()

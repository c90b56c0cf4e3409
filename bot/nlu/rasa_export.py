"""``haat rasa export DIR``: a complete Rasa 3.x project from the shop's training data.

The pipeline is chosen for many languages and scripts without language-specific models:
whitespace tokens, ``char_wb`` 1–4-gram counts (the same idea as the built-in classifier)
plus word counts, DIET for intents and entities, synonyms mapping product words to skus,
and a FallbackClassifier whose ``nlu_fallback`` the HTTP backend reads as ``out_of_scope``.
Checked against a real Rasa 3.6.21 (``scripts/rasa-serve.sh``, tests/e2e/test_rasa_real.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import yaml

from bot.nlu.base import ENTITY_ROLES, ENTITY_TYPES, INTENTS, LOW_CONFIDENCE
from bot.nlu.training import (
    RASA_VERSION,
    Example,
    dump_nlu_data,
    product_synonyms,
    training_examples,
)
from catalog.models import Shop

# DIET's default is 300 epochs. On the demo shop (~2,250 examples) a 2-core machine spends
# ~4.5 s an epoch and training accuracy reaches 1.0 by epoch ~20. Measured on
# tests/nlu/test_set.yml: 30 epochs train in 2.7 min for accuracy 0.9557, 100 epochs in
# 8.5 min for 0.9604 (2 of 429 sentences), so 30 keeps `rasa train` quick (docs/NLU.md).
DIET_EPOCHS = 30

CONFIG: dict[str, object] = {
    "recipe": "default.v1",
    "assistant_id": "haat",
    "language": "en",  # tokenisation is by whitespace and char n-grams: fine for hi, bn, ar
    "pipeline": [
        {"name": "WhitespaceTokenizer"},
        {"name": "RegexFeaturizer"},
        {"name": "LexicalSyntacticFeaturizer"},
        {"name": "CountVectorsFeaturizer"},
        {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 1,
         "max_ngram": 4},
        {"name": "DIETClassifier", "epochs": DIET_EPOCHS, "constrain_similarities": True},
        {"name": "EntitySynonymMapper"},
        {"name": "FallbackClassifier", "threshold": LOW_CONFIDENCE,
         "ambiguity_threshold": 0.1},
    ],
    "policies": [{"name": "RulePolicy"}],
}

# Minimal responses: the bot's real replies live in haat, Rasa only classifies.
_RESPONSES = {
    "utter_greet": "Hello! Type *menu* to see what we have.",
    "utter_default": "Sorry, I did not understand that.",
}


def domain(shop: Shop | Sequence[Shop]) -> dict[str, object]:
    """Intents, entities (with the roles the data uses) and a slot per extracted entity."""
    entities: list[object] = [
        {kind: {"roles": list(ENTITY_ROLES[kind])}} if kind in ENTITY_ROLES else kind
        for kind in ENTITY_TYPES
    ]
    slots = {
        kind: {"type": "text", "influence_conversation": False,
               "mappings": [{"type": "from_entity", "entity": kind}]}
        for kind in ("product", "quantity", "unit")
    }
    return {
        "version": RASA_VERSION,
        "intents": list(INTENTS),
        "entities": entities,
        "slots": slots,
        "responses": {k: [{"text": v}] for k, v in _RESPONSES.items()},
        "session_config": {"session_expiration_time": 60, "carry_over_slots_to_new_session": True},
    }


def _without_groups(example: Example) -> Example:
    """Rasa groups are per-message labels ("1", "2"); the corpus numbers them per file."""
    if not any(s.group for s in example.spans):
        return example
    return Example(example.text, example.intent,
                   tuple(replace(s, group="") for s in example.spans))


def export_rasa_project(shop: Shop | Sequence[Shop], out_dir: Path) -> list[Path]:
    """Write config.yml, domain.yml and data/nlu.yml under ``out_dir``; return the paths.

    Several shops (a folder of shop folders) give one project: each shop's catalog examples
    and synonyms, the shipped data once. Product, quantity and unit annotations (and the
    ``negated``/``ask`` roles) go into data/nlu.yml, so DIET learns entities too.
    """
    shops = [shop] if isinstance(shop, Shop) else list(shop)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "data").mkdir(exist_ok=True)
    synonyms: dict[str, tuple[str, ...]] = {}
    examples: list[Example] = []
    for one in shops:
        for sku, words in product_synonyms(one).items():
            synonyms[sku] = tuple(dict.fromkeys((*synonyms.get(sku, ()), *words)))
        examples.extend(training_examples(one))
    lookups = {"product": sorted({w for words in synonyms.values() for w in words})}
    files = {
        out_dir / "config.yml": yaml.safe_dump(CONFIG, sort_keys=False, allow_unicode=True),
        out_dir / "domain.yml": yaml.safe_dump(domain(shops), sort_keys=False,
                                               allow_unicode=True),
        out_dir / "data" / "nlu.yml": dump_nlu_data(
            [_without_groups(ex) for ex in examples], synonyms, lookups),
    }
    for path, text in files.items():
        path.write_text(text, encoding="utf-8")
    return list(files)

"""OMoS-QA: measuring the product on real municipal pages, and fitting its answer-line weights.

The data set (OMoS-QA, CC BY 4.0, Tür an Tür – Digitalfabrik gGmbH, digitalfabrik/integreat-qa-dataset)
lives outside the repository; this package only reads it. There is no second engine here: pages go
through the Integreat importer into a temporary index and questions through `Answerer`.
`data` loads pages and questions, `metrics` scores like the data set's own evaluation script,
`product` ingests and asks, `training` fits `knowledge/data/line_scorer.json` on the train split,
`lexicon` fitted the English→German word table the LLM grounding check uses
(`knowledge/data/en_de_lexicon.json`), and `cli` holds the `eval-omosqa` and `train-extractor` commands.
It stays inside `knowledge/` (not `bench/`) because those commands ship with the package.
"""

ATTRIBUTION = (
    "OMoS-QA data: Integreat app content (Tür an Tür – Digitalfabrik gGmbH), dataset of "
    '"OMoS-QA: A Dataset for Cross-Lingual Extractive Question Answering in a German Migration Context" '
    "(KONVENS 2024), github.com/digitalfabrik/integreat-qa-dataset, licensed CC BY 4.0."
)

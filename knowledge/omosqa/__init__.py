"""OMoS-QA benchmark: page retrieval and answer-sentence extraction on real municipal pages.

The data set (OMoS-QA, CC BY 4.0, Tür an Tür – Digitalfabrik gGmbH, digitalfabrik/integreat-qa-dataset)
lives outside the repository; this package only reads it. One module, one job:
`data` loads pages and questions, `metrics` scores like the data set's own evaluation script,
`vectors` caches sentence embeddings, `features` turns a (question, page) pair into per-sentence
features, `model` holds the small learned models as plain coefficients, `retrieval` ranks pages,
`pipeline` ties them together and `cli` prints the figures.
"""

ATTRIBUTION = (
    "OMoS-QA data: Integreat app content (Tür an Tür – Digitalfabrik gGmbH), dataset of "
    '"OMoS-QA: A Dataset for Cross-Lingual Extractive Question Answering in a German Migration Context" '
    "(KONVENS 2024), github.com/digitalfabrik/integreat-qa-dataset, licensed CC BY 4.0."
)

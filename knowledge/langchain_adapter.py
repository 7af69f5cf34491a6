"""LangChain view of our retrieval, for chains and the optional LLM answerer.

Only this module and `knowledge/llm.py` import LangChain; everything else speaks our own types.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from knowledge.chunking import dense_text
from knowledge.index import KnowledgeIndex
from knowledge.retrieval import retrieve


class KnowledgeRetriever(BaseRetriever):
    """Hybrid retrieval as a LangChain retriever: best passages of the best services, with metadata."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    index: Any  # KnowledgeIndex; Any keeps pydantic from introspecting it
    services: int = 3
    passages_per_service: int = 3

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        index: KnowledgeIndex = self.index
        result = retrieve(index, query)
        documents = []
        for rank, hit in enumerate(result.hits[: self.services]):
            service = index.services[hit.service_id]
            for scored in hit.passages[: self.passages_per_service]:
                passage = scored.passage
                documents.append(
                    Document(
                        page_content=dense_text(passage),
                        metadata={
                            "service_id": passage.service_id,
                            "section": passage.section.value,
                            "source_url": passage.source_url,
                            "updated": service.updated.isoformat() if service.updated else None,
                            "service_rank": rank + 1,
                            "score": scored.score,
                        },
                    )
                )
        return documents


class PackagedEmbeddings(Embeddings):
    """Our offline embedding model behind LangChain's `Embeddings` interface (e.g. for langchain-chroma)."""

    def __init__(self, index: KnowledgeIndex) -> None:
        self._embedder = index.embedder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return np.asarray(self._embedder.embed_passages(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        return np.asarray(self._embedder.embed_query(text)).tolist()

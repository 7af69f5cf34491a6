from knowledge.langchain_adapter import KnowledgeRetriever, PackagedEmbeddings


def test_retriever_returns_documents_with_sources(demo_index):
    retriever = KnowledgeRetriever(index=demo_index, services=2)
    documents = retriever.invoke("Welche Unterlagen brauche ich für den Reisepass?")
    assert documents
    first = documents[0].metadata
    assert first["service_id"] == "reisepass"
    assert first["source_url"].startswith("https://")
    assert {d.metadata["service_rank"] for d in documents} <= {1, 2}


def test_embeddings_adapter(demo_index):
    embeddings = PackagedEmbeddings(demo_index)
    vectors = embeddings.embed_documents(["Reisepass", "Hundesteuer"])
    assert len(vectors) == 2 and len(vectors[0]) == demo_index.embedder.dim
    assert len(embeddings.embed_query("Pass")) == demo_index.embedder.dim

"""Knowledge-engine figures at scale: demo ingest from scratch, warm `ask` latency and peak memory
with 10,000 indexed passages (synthetic services built from the demo corpus's sentences).

Usage: python -m bench.scale [--passages 10000] [--model use]
Three separate processes so each figure is clean: (1) ingest of the demo corpus from scratch
with an empty embedding cache, (2) ingest of the synthetic scale corpus, (3) a query process that
loads the scale index and answers the dev and holdout questions; its peak RSS is reported.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from bench.machine import machine_info
from bot.settings import PROJECT_ROOT

DISTRICTS = [
    "Altstadt", "Maxvorstadt", "Schwabing", "Au", "Haidhausen", "Sendling", "Giesing", "Pasing", "Bogenhausen",
    "Laim", "Moosach", "Milbertshofen", "Trudering", "Riem", "Hadern", "Thalkirchen", "Neuhausen", "Nymphenburg",
]  # fmt: skip
TOPICS = [
    "Sondernutzung", "Zuschuss", "Genehmigung", "Bescheinigung", "Anmeldung", "Förderung", "Erlaubnis", "Antrag",
    "Beratung", "Registrierung", "Ausnahme", "Nachweis", "Ermäßigung", "Verlängerung", "Befreiung", "Zulassung",
]  # fmt: skip
OBJECTS = [
    "Marktstand", "Balkonkraftwerk", "Lastenrad", "Straßenfest", "Gartenhaus", "Taubenfütterung", "Werbeschild",
    "Heizungstausch", "Dachbegrünung", "Schulweghelfer", "Musikunterricht", "Imkerei", "Carsharing-Stellplatz",
    "Flohmarkt", "Sportverein", "Nachbarschaftshilfe", "Sprachkurs", "Wohnungstausch", "Hochbeet", "Grillplatz",
]  # fmt: skip


def synthetic_corpus(target_passages: int, out: Path, seed: int = 7) -> int:
    """Services that look like city content: sentences recombined from the demo corpus, new names."""
    from knowledge.importers.native import load_directory

    rng = random.Random(seed)
    demo = load_directory(PROJECT_ROOT / "tests" / "fixtures" / "demo_content").services
    lines_by_section: dict[str, list[str]] = {}
    for service in demo:
        for section, text in service.sections.items():
            lines_by_section.setdefault(section.value, []).extend(t for t in text.splitlines() if t.strip())
    count = passages = 0
    while passages < target_passages:
        topic, obj, district = rng.choice(TOPICS), rng.choice(OBJECTS), rng.choice(DISTRICTS)
        title = f"{topic} für {obj} in {district}"
        sections = {}
        for section, lines in lines_by_section.items():
            if rng.random() < 0.85:
                picked = rng.sample(lines, min(len(lines), rng.randint(2, 5)))
                sections[section] = "\n".join([f"- Für {obj} in {district} gilt:", *picked])
        service = {
            "id": f"scale-{count:05d}",
            "title": title,
            "summary": f"{topic} für {obj} im Stadtbezirk {district}. Synthetischer Eintrag für Lasttests.",
            "keywords": [obj, topic, district],
            "source_url": f"https://example.invalid/scale/{count}",
            "updated": "2026-11-01",
            "sections": sections,
        }
        (out / f"{service['id']}.yaml").write_text(yaml.safe_dump(service, allow_unicode=True), encoding="utf-8")
        count += 1
        passages += 1 + len(sections)
    return count


def _child(code: str, env_data: Path, model: str) -> dict[str, object]:
    env = {"BUERGERBOT_DATA_DIR": str(env_data), "BUERGERBOT_EMBEDDING_MODEL": model, "PATH": "/usr/bin:/bin"}
    import os

    env = {**os.environ, **env}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=PROJECT_ROOT)
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-3000:])
    return json.loads(result.stdout.strip().splitlines()[-1])


INGEST = """
import json, time
from pathlib import Path
from bot.settings import get_settings
from knowledge.ingest import ingest
s = get_settings(); t = time.perf_counter(); r = ingest(s, Path({path!r}))
print(json.dumps({{"seconds": round(time.perf_counter() - t, 2), "services": len(r.added),
                  "passages": r.passages_embedded}}))
"""

QUERY = """
import json, resource, time
from pathlib import Path
import numpy as np
from bot.settings import get_settings
from knowledge.answering import Answerer
from knowledge.ingest import load_index
from knowledge.evaluation import load_questions
t = time.perf_counter(); answerer = Answerer(load_index(get_settings())); load_s = time.perf_counter() - t
questions = [q.question for f in {files!r} for q in load_questions(Path(f))]
for q in questions[:10]: answerer.answer(q)
timings = []
for q in questions:
    t = time.perf_counter(); answerer.answer(q); timings.append((time.perf_counter() - t) * 1000)
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"questions": len(timings), "load_s": round(load_s, 2),
  "p50_ms": round(float(np.percentile(timings, 50)), 2), "p95_ms": round(float(np.percentile(timings, 95)), 2),
  "peak_rss_mb": round(rss), "passages": len(answerer.index.passages)}}))
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--passages", type=int, default=10_000)
    parser.add_argument("--model", default="use")
    args = parser.parse_args()
    report: dict[str, object] = {"machine": machine_info(), "model": args.model}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        demo = _child(
            INGEST.format(path=str(PROJECT_ROOT / "tests" / "fixtures" / "demo_content")), root / "demo", args.model
        )
        report["demo_ingest_from_scratch"] = demo
        corpus = root / "scale-content"
        corpus.mkdir()
        services = synthetic_corpus(args.passages, corpus)
        started = time.perf_counter()
        scale = _child(INGEST.format(path=str(corpus)), root / "scale", args.model)
        scale["wall_s"] = round(time.perf_counter() - started, 1)
        report["scale_ingest"] = {**scale, "services": services}
        files = [str(PROJECT_ROOT.parent / "shared" / "eval" / "dev_questions.jsonl"),
                 str(PROJECT_ROOT / "bench" / "data" / "holdout_questions.jsonl")]  # fmt: skip
        files = [f for f in files if Path(f).exists()]
        report["warm_ask_at_scale"] = _child(QUERY.format(files=files), root / "scale", args.model)
    print(json.dumps(report, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()

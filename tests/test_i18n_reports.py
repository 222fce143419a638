"""Reports in Spanish: the PIA's PDF (read back with poppler's pdftotext) speaks Spanish and cites
GDPR Art. 35 beside Argentina's Ley 25.326 and Disposición 10/2015 and Ecuador's LOPDP; the
transparency report's HTML is in Spanish with the site's dates; the API answers in the user's language."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from oversight.events.bus import EventBus
from oversight.privacy import reports
from oversight.store.db import Database
from oversight.web.app import create_app
from oversight.web.context import AppContext
from privacy_helpers import client, make_users, site

T = datetime(2026, 3, 1, tzinfo=UTC)
CITATIONS = [
    "RGPD",
    "art. 35",
    "Ley 25.326",
    "Disposición 10/2015",
    "AAIP",
    "Ley Orgánica de Protección de Datos Personales",
    "Quinto Suplemento 459",
    "art. 42",
]


def _pdf_text(path: Path) -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) not installed")
    out = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return " ".join(out.split())  # lines wrap anywhere in a PDF


def test_the_spanish_pia_pdf_cites_the_latin_american_frameworks(db: Database, tmp_path: Path) -> None:
    cfg = site(tmp_path)
    files = reports.build_report(
        "pia", db, cfg, T, T + timedelta(days=30), tmp_path / "out", formats=("pdf",), locale="es_AR"
    )
    assert files["pdf"].name.endswith("-es_AR.pdf")
    text = _pdf_text(files["pdf"])
    assert "Evaluación de impacto en la privacidad — Test" in text
    assert "Descripción sistemática del tratamiento" in text and "Marco normativo" in text
    assert "sin lectura de patentes" in text  # Argentine wording; Ecuador and the base say "placas"
    for cite in CITATIONS:
        assert cite in text, cite
    for english in ("Systematic description", "Necessity and proportionality", "Measures in place"):
        assert english not in text


def test_english_stays_the_default_and_cites_the_same_frameworks(db: Database, tmp_path: Path) -> None:
    files = reports.build_report(
        "pia", db, site(tmp_path), T, T + timedelta(days=30), tmp_path / "o", formats=("html", "pdf")
    )
    text = _pdf_text(files["pdf"])
    assert "Systematic description of the processing" in text and "Legal frameworks" in text
    assert "Ley 25.326" in text and "Disposición 10/2015" in text and "art. 42" in text
    assert "<html lang='en'>" in files["html"].read_text()


def test_the_spanish_transparency_report_uses_the_sites_zone_and_spanish_dates(
    db: Database, tmp_path: Path
) -> None:
    cfg = site(tmp_path)
    cfg.site.timezone = "America/Guayaquil"
    files = reports.build_report(
        "transparency", db, cfg, T, T + timedelta(days=7), tmp_path / "o", formats=("html",), locale="es_EC"
    )
    page = files["html"].read_text()
    assert "<html lang='es'>" in page and "Informe de transparencia — Test" in page
    # 1 March 2026 00:00 UTC is 28 February 19:00 in Guayaquil, written the Spanish way
    assert "Período del 28 feb 2026 19:00 al 7 mar 2026 19:00 (America/Guayaquil)" in page
    assert "Cumplimiento de la conservación" in page


def test_the_report_api_answers_in_the_users_language(db: Database, tmp_path: Path) -> None:
    app = create_app(AppContext(cfg=site(tmp_path), db=db, bus=EventBus()))
    make_users(db, aud="auditor")
    c = client(app, "aud")
    es = c.get("/api/reports/pia?format=html", headers={"Accept-Language": "es-EC,es;q=0.9"})
    assert es.status_code == 200 and "Evaluación de impacto en la privacidad" in es.text
    assert "sin lectura de placas" in es.text
    en = c.get("/api/reports/pia?format=html&lang=en", headers={"Accept-Language": "es"})
    assert "Privacy impact assessment" in en.text and "Evaluación" not in en.text

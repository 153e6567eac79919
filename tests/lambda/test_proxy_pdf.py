"""A PDF's reservation follows its page count and the model's context window (issue 13 item 5)."""

from __future__ import annotations

import base64

import pytest
from claude_proxy import pdf
from claude_proxy.content_blocks import PDF_PAGE_TOKEN_BOUND
from claude_proxy.core import invoke
from claude_proxy.pdf import page_count
from claude_proxy.request import DOCUMENT_PDF_TOKEN_BOUND, FRAMING_TOKENS_PER_BLOCK, parse_request
from claude_proxy.settings import Settings
from pdf_samples import classic_pdf, encrypted_pdf, object_stream_pdf
from proxy_testkit import Deadline, FakeClock, FakeLlm, MaxRng, RecordingLedger, model_entry, project_settings

from claude_platform.catalog import Geography
from claude_platform.function_settings import FunctionSettings
from claude_platform.prices import worst_case_cost_usd


@pytest.mark.parametrize("pages", [1, 3, 40])
def test_pages_are_counted_in_a_classic_pdf(pages):
    assert page_count(classic_pdf(pages)) == pages


@pytest.mark.parametrize("pages", [1, 7])
def test_pages_inside_compressed_object_streams_are_counted(pages):
    data = object_stream_pdf(pages)
    assert b"/Type /Page " not in data  # hidden from a plain search of the file
    assert page_count(data) == pages


def test_the_count_is_never_below_what_the_file_holds():
    assert page_count(classic_pdf(2, count=9)) == 9  # the page tree says more
    assert page_count(classic_pdf(5, count=1)) == 5  # the page tree says fewer than there are
    assert page_count(classic_pdf(3, page_type=b"/P#61ge")) == 3  # a name escape hides nothing
    assert page_count(classic_pdf(2, page_type=b"%c\n/Page")) == 2  # neither does a comment


@pytest.mark.parametrize(
    "data",
    [
        encrypted_pdf(),
        b"%PDF-1.7\nnot really a pdf",
        object_stream_pdf(2, filter_name=b"/LZWDecode"),
        object_stream_pdf(2, filter_name=b"[/ASCII85Decode /FlateDecode]"),
        classic_pdf(1).replace(b"/Type /Page", b"/Type /Pag"),
        object_stream_pdf(4, truncate=True),  # pages cut off with the stream's end
        object_stream_pdf(4, type_name=b"/ObjSt#6d"),  # an object stream named to hide it
    ],
)
def test_pages_that_cannot_be_counted_are_unknown(data):
    assert page_count(data) is None


def test_a_decompression_bomb_is_unknown_not_expanded(monkeypatch):
    monkeypatch.setattr(pdf, "MAX_INFLATED_BYTES", 1_000_000)
    assert page_count(object_stream_pdf(1, inflated=b"0" * 2_000_000)) is None


def pdf_request(data: bytes, model: str | None = None):
    document = {
        "type": "document",
        "source": {
            "type": "base64",
            "media_type": "application/pdf",
            "data": base64.b64encode(data).decode(),
        },
    }
    event = {"messages": [{"role": "user", "content": [document, {"type": "text", "text": "summarize"}]}]}
    return parse_request(event | ({"model": model} if model else {}))


def test_a_pdf_is_bounded_by_its_pages():
    one, three = pdf_request(classic_pdf(1)), pdf_request(classic_pdf(3))
    assert three.input_token_bound - one.input_token_bound == 2 * PDF_PAGE_TOKEN_BOUND
    unknown = pdf_request(encrypted_pdf())
    assert (
        unknown.input_token_bound - one.input_token_bound == DOCUMENT_PDF_TOKEN_BOUND - PDF_PAGE_TOKEN_BOUND
    )
    assert unknown.input_token_bound_for(None) == unknown.input_token_bound


def test_pdfs_are_bounded_by_the_model_context_window():
    big = pdf_request(classic_pdf(40))  # 40 pages x 10,784 tokens: over a 200k window
    other = big.input_token_bound - 40 * PDF_PAGE_TOKEN_BOUND
    assert big.input_token_bound_for(200_000) == other + 200_000
    assert big.input_token_bound_for(1_000_000) == big.input_token_bound
    unknown = pdf_request(encrypted_pdf())
    assert (
        unknown.input_token_bound_for(200_000)
        == unknown.input_token_bound - DOCUMENT_PDF_TOKEN_BOUND + 200_000
    )


def settings() -> Settings:
    models = [model_entry("claude-sonnet-4-5", Geography.US), model_entry("claude-sonnet-4-6", Geography.US)]
    return Settings(project=FunctionSettings.model_validate(project_settings(models)), region="us-east-1")


def reserved(request) -> float:
    ledger, clock = RecordingLedger(), FakeClock()
    invoke(
        request,
        settings=settings(),
        llm=FakeLlm(),
        clock=clock,
        remaining_ms=Deadline(clock, 60_000),
        rng=MaxRng(),
        request_id="r",
        ledger=ledger,
    )
    return ledger.events[0][1]["amount_usd"]


def test_a_one_page_pdf_on_us_sonnet_4_5_reserves_its_pages_not_a_million_tokens():
    request = pdf_request(classic_pdf(1))
    cfg = settings()
    prices = cfg.project.models[0].prices
    text_and_framing = request.input_token_bound - PDF_PAGE_TOKEN_BOUND - FRAMING_TOKENS_PER_BLOCK
    expected = worst_case_cost_usd(prices, input_tokens=request.input_token_bound, max_output_tokens=1024)
    before = worst_case_cost_usd(
        prices,
        input_tokens=text_and_framing + DOCUMENT_PDF_TOKEN_BOUND + FRAMING_TOKENS_PER_BLOCK,
        max_output_tokens=1024,
    )
    assert reserved(request) == expected
    # ~10.8k input tokens at the worst input rate + 1024 output tokens, against 1M input tokens
    assert expected < 0.1 and before > 6.0


def test_an_uncountable_pdf_reserves_the_model_context_window():
    unknown = pdf_request(encrypted_pdf())
    prices = settings().project.models[0].prices
    window_bound = unknown.input_token_bound_for(200_000)  # Sonnet 4.5 in LiteLLM's map
    assert reserved(unknown) == worst_case_cost_usd(prices, input_tokens=window_bound, max_output_tokens=1024)
    wide = pdf_request(encrypted_pdf(), model="claude-sonnet-4-6")  # a 1M window
    assert reserved(wide) > reserved(unknown)

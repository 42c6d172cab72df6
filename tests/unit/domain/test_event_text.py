"""The event log's sentences: what a license administrator reads instead of raw names."""

from __future__ import annotations

from smartlic.domain.event_text import CATEGORIES, category_prefixes, describe, details, short

UUID = "3f2a9c1e-0b4d-4e5f-8a6b-7c8d9e0f1a2b"
TAG = "regid.2017-03.com.cisco.DNA_NWStack,1.0_e7244e71-3ad5-4608-8bf0-d12f67c80896"


def test_identifiers_are_shortened_for_people() -> None:
    assert short(UUID) == "3f2a9c1e"
    assert short(TAG) == "DNA_NWStack"
    assert short("C9300-24UX:FCW2134L00C") == "C9300-24UX:FCW2134L00C"
    assert short(None) == ""


def test_a_transfer_reads_as_a_sentence_naming_who_did_it() -> None:
    text = describe(
        "instance.transferred",
        actor="alice",
        virtual_account="Sales",
        subject="UDI_PID:C9300; UDI_SN:FOC1",
        properties={"target": "Lab", "out_of_compliance": ["x"]},
    )
    assert text == (
        "UDI_PID:C9300; UDI_SN:FOC1 transferred from Sales to Lab "
        "(puts Lab out of compliance) by alice."
    )


def test_device_actors_are_not_repeated_and_uuids_never_shown() -> None:
    text = describe("token.created", actor="alice", virtual_account="DEFAULT", subject=UUID)
    assert text == "Registration token 3f2a9c1e created in DEFAULT by alice."
    text = describe("instance.registered", actor="device:C9300:FOC1", subject="C9300:FOC1",
                    virtual_account="Prod")  # fmt: skip
    assert text == "C9300:FOC1 registered in Prod."


def test_refusals_say_why() -> None:
    text = describe(
        "instance.registration.refused", subject="C9300:X", properties={"reason": "token expired"}
    )
    assert text == "Registration of C9300:X refused: token expired."


def test_unknown_names_and_missing_properties_still_read() -> None:
    assert describe("widget.frobbed", subject="w1") == "Widget frobbed: w1."
    assert describe("license.transferred", subject=TAG) == (
        "- DNA_NWStack license(s) transferred from the account to -."
    )


def test_details_are_labelled_pairs_without_python_syntax() -> None:
    got = details({"token": UUID, "force": False, "tags": [TAG, "b"], "empty": None})
    assert got == (("Force", "no"), ("Tags", "DNA_NWStack, b"), ("Token", "3f2a9c1e"))
    assert "{" not in repr([v for _, v in got])


def test_categories_cover_the_prefixes() -> None:
    assert category_prefixes("Licenses") == ("license.",)
    assert category_prefixes("no such") == ()
    assert all(all(p.endswith(".") for p in ps) for ps in CATEGORIES.values())

"""Sending through a real SMTP server on 127.0.0.1 (aiosmtpd): each address once, per-address states, replies,
the gate (what goes out is what was approved), corrections, post, and a ledger status reads without writing."""

from __future__ import annotations

import email
import hashlib
import json
import re
from email import policy

from helpers import edit
from mta import free_port
from sending import CAMPAIGN, COORDINATOR, ask_for_changes, officials, sendable, send_template, smtp  # noqa: F401

PRESIDENT = ("pisma@mail.gov.kg", "oip@adm.gov.kg")


def test_dry_run_connects_to_nothing_writes_nothing_and_shows_who_signs(sendable, smtp):
    result = sendable.command("send", CAMPAIGN, "--root", sendable.root, "--out", sendable.out)
    assert result.exit_code == 0, result.output
    assert "Dry run: nothing is sent" in result.output and "- minister: would send" in result.output
    assert "signed by: amnesty-international," in result.output and "left off" in result.output
    assert f"copy of every message to: {COORDINATOR}" in result.output
    assert "embassy-washington: post only" in result.output
    assert smtp.messages == [] and not sendable.ledger.exists()


def test_each_address_gets_one_message_the_coordinator_a_copy_and_a_rerun_sends_nothing(sendable, smtp):
    result = sendable.send(smtp.port)
    assert result.exit_code == 0, result.output
    counts = smtp.per_address()
    assert counts[PRESIDENT[0]] == counts[PRESIDENT[1]] == counts["desk@mfa.example.org"] == 1
    assert counts[COORDINATOR] == 8 and set(counts.values()) == {1, 8}
    assert "president: sent to pisma@mail.gov.kg, oip@adm.gov.kg, coordinator@example.org (250" in result.output
    assert "summary: 25 addresses delivered, 0 waiting for a later run, 0 refused, 0 in doubt" in result.output
    [(_, _, message)] = [item for item in smtp.messages if PRESIDENT[0] in item[0]]
    assert COORDINATOR not in str(message["To"]) + str(message["Cc"]) and message["Bcc"] is None  # envelope only
    again = sendable.send(smtp.port)
    assert again.exit_code == 0 and len(smtp.messages) == 8
    assert set(sendable.states().values()) == {"sent"}


def test_the_sent_message_is_the_approved_draft_with_a_date_and_without_x_unsent(sendable, smtp):
    assert sendable.send(smtp.port).exit_code == 0
    draft = email.message_from_bytes((sendable.out / "march-2020/president/march-2020-president.eml").read_bytes(),
                                     policy=policy.default)
    [(_, _, message)] = [item for item in smtp.messages if PRESIDENT[0] in item[0]]
    assert message["Message-ID"] == draft["Message-ID"] and message["X-Unsent"] is None and message["Date"]
    assert [part.get_content() for part in message.iter_attachments()] == \
        [part.get_content() for part in draft.iter_attachments()]


def test_a_refused_cc_is_shown_in_the_exit_code_and_status_and_retried_only_when_asked(sendable, smtp):
    smtp.refuse = {"desk@mfa.example.org"}
    result = sendable.send(smtp.port)
    assert result.exit_code == 3
    assert "REFUSED desk@mfa.example.org (550 5.1.1 no such user here)" in result.output
    assert smtp.copies("minister@mfa.example.org") == 1 and smtp.copies("desk@mfa.example.org") == 0
    status = sendable.command("status", CAMPAIGN, "--root", sendable.root)
    assert "cc      desk@mfa.example.org: failed-permanent (550 5.1.1 no such user here)" in status.output
    assert "--retry RECIPIENT" in status.output
    assert sendable.send(smtp.port).exit_code == 3 and smtp.copies("desk@mfa.example.org") == 0  # not unasked
    smtp.refuse = set()
    result = sendable.send(smtp.port, "--retry", "minister")
    assert result.exit_code == 0, result.output
    assert smtp.copies("desk@mfa.example.org") == 1 and smtp.copies("minister@mfa.example.org") == 1


def test_a_4xx_on_one_rcpt_is_retried_later_for_that_address_alone(sendable, smtp):
    smtp.defer = {"office@mfa.example.org"}
    result = sendable.send(smtp.port, "--retries", "1")
    assert result.exit_code == 3
    assert sendable.states()[("minister", "office@mfa.example.org")] == "failed-temporary"
    assert smtp.copies("minister@mfa.example.org") == 1 and smtp.copies("office@mfa.example.org") == 0
    smtp.defer = set()
    assert sendable.send(smtp.port).exit_code == 0
    assert smtp.copies("office@mfa.example.org") == 1 and smtp.copies("minister@mfa.example.org") == 1
    [late] = [message for recipients, _, message in smtp.messages if recipients == ("office@mfa.example.org",)]
    assert "office@mfa.example.org" in str(late["To"])  # the same message, to the address left over


def test_a_server_taking_one_recipient_per_transaction_gets_every_address(sendable, smtp):
    smtp.one_recipient = True
    result = sendable.send(smtp.port, "--retries", "0")  # not a deferral: the rest go in further transactions
    assert result.exit_code == 0, result.output
    assert "desk@mfa.example.org, coordinator@example.org in another transaction" in result.output
    assert all(len(recipients) == 1 for recipients, _, _ in smtp.messages)
    assert smtp.copies("desk@mfa.example.org") == 1 and smtp.copies("desk-3@gov.example.org") == 1
    assert len(smtp.messages) == 25 and set(sendable.states().values()) == {"sent"}
    assert len({message_id for recipients, message_id, _ in smtp.messages if "minister@mfa.example.org" in recipients
                or "desk@mfa.example.org" in recipients}) == 1


def test_a_line_lost_after_the_text_leaves_it_in_doubt_until_a_person_confirms_or_asks_to_resend(sendable, smtp):
    smtp.drop_after_data = {PRESIDENT[0]}
    result = sendable.send(smtp.port)
    assert result.exit_code == 3 and "IN DOUBT pisma@mail.gov.kg" in result.output
    assert sendable.states()[("president", PRESIDENT[0])] == "in-doubt"
    smtp.drop_after_data = set()
    assert sendable.send(smtp.port).exit_code == 3 and smtp.copies(PRESIDENT[0]) == 1  # never resent alone
    status = sendable.command("status", CAMPAIGN, "--root", sendable.root)
    assert "in doubt: ask whether it arrived" in status.output
    result = sendable.send(smtp.port, "--resend", "president")
    assert result.exit_code == 0, result.output
    assert smtp.copies(PRESIDENT[0]) == 2  # a person checked and asked for it
    assert len({message_id for recipients, message_id, _ in smtp.messages if PRESIDENT[0] in recipients}) == 1


def test_confirming_an_in_doubt_message_settles_it_without_sending(sendable, smtp):
    smtp.drop_after_data = {"minister@mfa.example.org"}
    assert sendable.send(smtp.port).exit_code == 3
    result = sendable.command("confirm", CAMPAIGN, "minister", "--by", "A. Person", "--root", sendable.root)
    assert result.exit_code == 0 and "recorded as arrived at 4 address(es)" in result.output
    assert sendable.send(smtp.port).exit_code == 0 and smtp.copies("minister@mfa.example.org") == 1
    assert sendable.states()[("minister", "desk@mfa.example.org")] == "confirmed"
    wrong = sendable.send(smtp.port, "--resend", "minister")
    assert wrong.exit_code == 1 and "no message to it is in doubt" in wrong.stderr


def test_a_final_4xx_is_retried_in_the_same_run(sendable, smtp):
    smtp.data_replies = ["451 4.3.0 try again later"]
    result = sendable.send(smtp.port)
    assert result.exit_code == 0, result.output
    assert "president: deferred pisma@mail.gov.kg, oip@adm.gov.kg, coordinator@example.org (451" in result.output
    assert smtp.copies(PRESIDENT[0]) == 1 and set(sendable.states().values()) == {"sent"}


def test_a_final_5xx_refuses_that_message_only(sendable, smtp):
    smtp.data_replies = ["554 5.7.1 message refused"]
    result = sendable.send(smtp.port)
    assert result.exit_code == 3
    states = sendable.states()
    assert {key for key, state in states.items() if state == "failed-permanent"} == \
        {("president", PRESIDENT[0]), ("president", PRESIDENT[1]), ("president", COORDINATOR)}
    assert smtp.copies(PRESIDENT[0]) == 0 and len(smtp.messages) == 7


def test_a_tampered_eml_or_a_swapped_pdf_is_refused_even_with_the_manifest_rehashed(sendable, smtp):
    eml = sendable.out / "march-2020/minister/march-2020-minister.eml"
    original = eml.read_bytes()
    manifest_path = sendable.out / "march-2020/manifest.json"
    manifest = manifest_path.read_text()

    def rehash(path, data):
        path.write_bytes(data)
        listing = json.loads(manifest)
        for entry in listing["files"]:
            if sendable.out / "march-2020" / entry["path"] == path:
                entry["sha256"] = hashlib.sha256(data).hexdigest()
        manifest_path.write_text(json.dumps(listing))

    rehash(eml, original.replace(b"To: minister@mfa.example.org", b"To: attacker@evil.example.org"))
    result = sendable.send(smtp.port)
    assert result.exit_code == 1 and "To is attacker@evil.example.org, office@mfa.example.org but campaign.yaml " \
        "says minister@mfa.example.org, office@mfa.example.org" in result.stderr
    pdf = sendable.out / "march-2020/minister/march-2020-minister-en.pdf"
    president_pdf = (sendable.out / "march-2020/president/march-2020-president-en.pdf").read_bytes()
    rehash(eml, original)
    message = email.message_from_bytes(original, policy=policy.default)
    for part in message.iter_attachments():
        part.set_content(president_pdf, maintype="application", subtype="pdf", filename=part.get_filename())
    rehash(eml, message.as_bytes())
    result = sendable.send(smtp.port)
    assert result.exit_code == 1 and "its attachments are not the manifest's letters for minister" in result.stderr
    assert pdf.exists() and smtp.messages == [] and not sendable.ledger.exists()


def test_an_address_changed_since_the_build_is_refused(sendable, smtp):
    edit(sendable.folder / "campaign.yaml", "desk@mfa.example.org", "desk2@mfa.example.org")
    result = sendable.send(smtp.port)
    assert result.exit_code == 1
    assert "letters/march-2020/campaign.yaml changed since the build" in result.stderr
    assert smtp.messages == [] and not sendable.ledger.exists()
    sendable.build()
    assert sendable.send(smtp.port).exit_code == 0 and smtp.copies("desk2@mfa.example.org") == 1


def test_a_renamed_recipient_is_not_sent_twice(sendable, smtp):
    assert sendable.send(smtp.port).exit_code == 0
    edit(sendable.folder / "campaign.yaml", "id: minister", "id: foreign-minister")
    sendable.build()
    result = sendable.send(smtp.port)
    assert result.exit_code == 0, result.output
    assert "foreign-minister: already sent as 'minister'" in result.output
    assert smtp.copies("minister@mfa.example.org") == 1 and len(smtp.messages) == 8


def test_a_refused_run_leaves_nothing_that_blocks_the_rebuilt_letter(sendable, smtp):
    refused = sendable.send(free_port())  # nobody listens: the run stops at once
    assert refused.exit_code == 1 and "cannot connect to 127.0.0.1" in refused.stderr
    assert set(sendable.states().values()) == {"planned"}
    edit(sendable.folder / "campaign.yaml", "salutation: Your Excellency,\n    email: [minister",
         "salutation: Dear Minister,\n    email: [minister")
    sendable.build()
    result = sendable.send(smtp.port)
    assert result.exit_code == 0, result.output
    [(_, message_id, _)] = [item for item in smtp.messages if "minister@mfa.example.org" in item[0]]
    rebuilt = email.message_from_bytes((sendable.out / "march-2020/minister/march-2020-minister.eml").read_bytes(),
                                       policy=policy.default)
    assert message_id == rebuilt["Message-ID"]
    assert [row[:2] for row in sendable.deliveries() if row[0] == "minister"] == [("minister", message_id)]


def test_a_letter_changed_after_sending_goes_again_only_as_a_correction(sendable, smtp):
    assert sendable.send(smtp.port).exit_code == 0
    [(first_id,)] = [(row[1],) for row in sendable.deliveries() if row[0] == "minister"]
    edit(sendable.folder / "campaign.yaml", "salutation: Your Excellency,\n    email: [minister",
         "salutation: Dear Minister,\n    email: [minister")
    sendable.build()
    result = sendable.send(smtp.port)
    assert result.exit_code == 3 and "--correct minister" in result.output
    assert smtp.copies("minister@mfa.example.org") == 1
    result = sendable.send(smtp.port, "--correct", "minister")
    assert result.exit_code == 0, result.output
    assert smtp.copies("minister@mfa.example.org") == 2 and smtp.copies("desk@mfa.example.org") == 2
    [_, (_, second_id, correction)] = [item for item in smtp.messages if "minister@mfa.example.org" in item[0]]
    assert second_id != first_id and correction["References"] == first_id
    text = correction.get_body(("plain",)).get_content()
    assert re.match(r"This letter replaces our letter of \d+ \w+ \d{4}, which it corrects\.\r?\n\r?\nDear", text)
    rows = [row for row in sendable.deliveries() if row[0] == "minister"]
    assert [(kind, replaces) for _, _, kind, replaces in rows] == [("letter", None), ("correction", first_id)]
    assert sendable.send(smtp.port).exit_code == 0 and smtp.copies("minister@mfa.example.org") == 2
    again = sendable.send(smtp.port, "--correct", "minister")
    assert again.exit_code == 1 and "nothing changed that needs a correction" in again.stderr


def test_a_post_only_recipient_is_recorded_as_mailed_and_status_shows_it(sendable):
    status = sendable.command("status", CAMPAIGN, "--root", sendable.root)
    assert "embassy-washington: post, not recorded as mailed yet" in status.output
    result = sendable.command("mailed", CAMPAIGN, "embassy-washington", "--by", "R. Clerk", "--date", "2020-04-01",
                              "--tracking", "RR123456789KG", "--root", sendable.root)
    assert result.exit_code == 0, result.output
    status = sendable.command("status", CAMPAIGN, "--root", sendable.root)
    assert "embassy-washington: post, mailed 2020-04-01 by R. Clerk, tracking RR123456789KG" in status.output
    assert "post: 1 of 1 mailed" in status.output
    wrong = sendable.command("mailed", CAMPAIGN, "president", "--by", "R. Clerk", "--root", sendable.root)
    assert wrong.exit_code == 1 and "not a post-only recipient" in wrong.stderr


def test_status_and_the_dry_run_only_read_the_ledger(sendable, smtp):
    smtp.defer = {"desk-1@gov.example.org"}
    assert sendable.send(smtp.port, "--retries", "0").exit_code == 3
    before = sendable.ledger.read_bytes()
    listing = sorted(path.name for path in sendable.folder.iterdir())
    assert sendable.command("status", CAMPAIGN, "--root", sendable.root).exit_code == 0
    dry = sendable.command("send", CAMPAIGN, "--root", sendable.root, "--out", sendable.out)
    assert dry.exit_code == 0 and "official-1: would send to desk-1@gov.example.org" in dry.output
    assert sendable.ledger.read_bytes() == before and sorted(path.name for path in sendable.folder.iterdir()) == listing
    assert "1 waiting" in sendable.command("status", CAMPAIGN, "--root", sendable.root).output


def test_a_damaged_ledger_is_a_clear_error_and_nothing_is_sent(sendable, smtp):
    sendable.ledger.write_bytes(b"this is not a database" * 100)
    for result in (sendable.send(smtp.port), sendable.command("status", CAMPAIGN, "--root", sendable.root)):
        assert result.exit_code == 1 and "the ledger is damaged" in result.stderr
        assert "Traceback" not in result.output + result.stderr
    assert smtp.messages == []


def test_starttls_required_but_not_offered_is_refused_never_falling_back(sendable, smtp):
    result = sendable.command(*sendable.args(smtp.port)[:-6], "--smtp-security", "starttls")
    assert result.exit_code == 1, result.output
    assert "does not offer STARTTLS; refusing to send unencrypted" in result.stderr
    assert smtp.messages == [] and set(sendable.states().values()) == {"planned"}


def test_no_encryption_only_to_this_machine(sendable):
    result = sendable.command("send", CAMPAIGN, "--root", sendable.root, "--out", sendable.out, "--yes",
                              "--smtp-host", "mail.example.org", "--smtp-security", "none")
    assert result.exit_code == 1 and "allowed only to this machine" in result.stderr


def test_an_unapproved_text_is_refused_before_connecting(sendable, smtp):
    ask_for_changes(sendable, "omct")
    result = sendable.send(smtp.port)
    assert result.exit_code == 1 and "omct has not approved proof en-" in result.stderr
    assert smtp.messages == [] and not sendable.ledger.exists()



def test_a_recipient_taken_out_of_campaign_yaml_gets_nothing_more(sendable, smtp):
    smtp.defer = {"desk-6@gov.example.org"}
    assert sendable.send(smtp.port, "--retries", "0").exit_code == 3
    edit(sendable.folder / "campaign.yaml", officials(6)[len(officials(5)):], "")
    sendable.build()
    smtp.defer = set()
    result = sendable.send(smtp.port)
    assert result.exit_code == 0, result.output
    assert smtp.copies("desk-6@gov.example.org") == 0 and smtp.copies("official-6@gov.example.org") == 1


def test_a_server_that_hangs_up_between_messages_gets_them_all_without_deferrals(sendable, smtp):
    smtp.hang_up_after_each = True
    result = sendable.send(smtp.port, "--retries", "0")
    assert result.exit_code == 0, result.output
    assert "deferred" not in result.output and len(smtp.messages) == 8


def test_a_correction_that_never_went_out_is_replaced_by_a_later_correction_never_by_a_plain_letter(sendable, smtp):
    assert sendable.send(smtp.port).exit_code == 0
    [(_, first_id, _, _)] = [row for row in sendable.deliveries() if row[0] == "minister"]
    salutation = "salutation: Your Excellency,\n    email: [minister"
    edit(sendable.folder / "campaign.yaml", salutation, salutation.replace("Your Excellency", "Dear Minister"))
    sendable.build()
    assert sendable.send(free_port(), "--correct", "minister").exit_code == 1  # refused: nobody listens
    edit(sendable.folder / "campaign.yaml", "Dear Minister", "Honourable Minister")
    sendable.build()
    result = sendable.send(smtp.port)
    assert result.exit_code == 3 and "--correct minister" in result.output
    assert smtp.copies("minister@mfa.example.org") == 1  # neither the stale correction nor a plain letter
    assert sendable.send(smtp.port, "--correct", "minister").exit_code == 0
    assert smtp.copies("minister@mfa.example.org") == 2
    rows = [row for row in sendable.deliveries() if row[0] == "minister"]
    assert [(kind, replaces) for _, _, kind, replaces in rows] == [("letter", None), ("correction", first_id)]
    [_, (_, _, correction)] = [item for item in smtp.messages if "minister@mfa.example.org" in item[0]]
    assert correction["References"] == first_id


def test_a_bad_archive_address_is_refused_before_anything_is_sent(sendable, smtp):
    result = sendable.send(smtp.port, "--archive", "not an address")
    assert result.exit_code == 1 and "--archive 'not an address' is not a valid e-mail address" in result.stderr
    assert smtp.messages == [] and not sendable.ledger.exists()


def test_an_archive_address_gets_the_copies_instead_of_the_sender(sendable, smtp):
    assert sendable.send(smtp.port, "--archive", "archive@coalition.example.org").exit_code == 0
    assert smtp.copies("archive@coalition.example.org") == 8 and smtp.copies(COORDINATOR) == 0


def test_the_dry_run_names_the_organisations_left_off(sendable):
    ask_for_changes(sendable, "omct")
    built = sendable.command("build", CAMPAIGN, "--root", sendable.root, "--out", sendable.out, "--drop-pending")
    assert built.exit_code == 0, built.output
    result = sendable.command("send", CAMPAIGN, "--root", sendable.root, "--out", sendable.out)
    assert result.exit_code == 0, result.output + result.stderr
    assert "left off (had not approved the current proof of those languages): omct (en)" in result.output
    assert "omct" in result.output.split("signed by: ")[1].split("\n")[0]  # it still signs the ru and ky letters


def test_a_change_to_the_style_the_letterhead_extends_is_refused(sendable, smtp):
    edit(sendable.root / "styles/base/base.css", "p { margin: 0 0 3mm; }", "p { margin: 0 0 4mm; }")
    result = sendable.send(smtp.port)
    assert result.exit_code == 1 and "styles/base/base.css changed since the build" in result.stderr
    assert smtp.messages == []

"""Drives pipewright's web page in Debian's chromium with Playwright, as a person would.

Started by crates/pipewright/tests/web_page.rs against a real `pipewright serve` wired to the
fake GitLab; exits non-zero (with the reason) when the page does not behave. Flows:

  main   open /, fill Repository, Preview (stack, evidence, files, diff, findings), Commit
         (branch, commit, the run live to its final status), Ask "which test framework and
         why" (the detected one, with sources); no console errors.
  token  the server has PIPEWRIGHT_API_TOKENS: the page asks for a token, shows no data
         before it, refuses a wrong one, and works with the right one.

A screenshot of each step goes to --screenshots. Prints one line of timings as JSON.
"""

import argparse
import json
import re
import sys
import time

from playwright.sync_api import expect, sync_playwright

TIMEOUT_MS = 30_000


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True)
    parser.add_argument("--chromium", required=True)
    parser.add_argument("--screenshots", required=True)
    parser.add_argument("--flow", choices=["main", "token"], required=True)
    parser.add_argument("--repository", default="")
    parser.add_argument("--token", default="")
    args = parser.parse_args()
    timings = {}
    started = time.monotonic()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1366, "height": 900})
        page.set_default_timeout(TIMEOUT_MS)
        expect.set_options(timeout=TIMEOUT_MS)
        problems = []
        page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        timings["launch_s"] = round(time.monotonic() - started, 2)
        shot = lambda name: page.screenshot(path=f"{args.screenshots}/{name}.png", full_page=True)
        if args.flow == "main":
            main_flow(page, args, shot, timings)
        else:
            token_flow(page, args, shot, timings, problems)
        browser.close()
    timings["total_s"] = round(time.monotonic() - started, 2)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    print(json.dumps(timings))
    return 0


def step(timings, name, since):
    timings[name] = round(time.monotonic() - since, 2)
    return time.monotonic()


def main_flow(page, args, shot, timings):
    t = time.monotonic()
    page.goto(args.base + "/")
    expect(page).to_have_title("pipewright")
    expect(page.get_by_label("Repository")).to_be_visible()
    expect(page.locator("#health")).to_contain_text("GitLab: ok")
    expect(page.locator("#health")).to_contain_text("LLM: ok")
    shot("1-open")
    t = step(timings, "open_s", t)

    # Every field has a label a screen reader announces.
    unlabelled = page.evaluate(
        "[...document.querySelectorAll('input')].filter(i => !i.labels || !i.labels.length).map(i => i.id)"
    )
    assert not unlabelled, f"inputs without a label: {unlabelled}"
    # The keyboard is enough: Enter in the Repository field previews.
    page.get_by_label("Repository").fill(args.repository)
    # The built-in generator: the model only answers questions here.
    page.get_by_label("Use templates only").check()
    page.get_by_label("Repository").press("Enter")
    preview = page.locator("#preview")
    expect(preview).to_be_visible()
    expect(page.locator("#path-taken")).to_contain_text("[Template]")
    expect(page.locator("#stack")).to_contain_text("flask")
    expect(page.locator("#stack")).to_contain_text("pytest")
    page.locator("#stack summary").first.click()
    expect(page.locator("#stack")).to_contain_text("requirements")
    expect(page.locator("#files")).to_contain_text(".gitlab-ci.yml")
    expect(page.locator("#files")).to_contain_text("Dockerfile")
    expect(page.locator("#files")).to_contain_text("Diff against the repository's .gitlab-ci.yml")
    expect(page.locator("#files .del").first).to_be_visible()
    expect(page.locator("#findings li").first).to_be_visible()
    shot("2-preview")
    t = step(timings, "preview_s", t)

    page.get_by_label("Branch name").fill("feature/from-the-page")
    page.get_by_role("button", name="Commit").click()
    expect(page.locator("#run-facts")).to_contain_text("feature/from-the-page")
    expect(page.locator("#run-facts")).to_contain_text(re.compile(r"[0-9a-f]{40}"))
    expect(page.locator("#run-facts a").first).to_have_attribute("href", re.compile(r"^http"))
    # The run goes on live: a pipeline appears, then the final outcome, without a reload.
    expect(page.locator("#attempts li").first).to_contain_text("Attempt 0")
    shot("3-running")
    expect(page.locator("#run-outcome")).to_contain_text("Succeeded", timeout=60_000)
    # The failed first pipeline: the job, its class and evidence line; then the fix, its diff.
    attempts = page.locator("#attempts")
    expect(attempts).to_contain_text("test (test) failed")
    expect(attempts).to_contain_text("timeout_error")
    expect(attempts).to_contain_text("line ")
    expect(attempts).to_contain_text("Attempt 1")
    expect(attempts).to_contain_text("Fix: raise_timeout")
    expect(attempts.locator(".add").first).to_contain_text("timeout: 2h")
    expect(attempts).to_contain_text("success")
    shot("4-succeeded")
    page.locator("#run").screenshot(path=f"{args.screenshots}/4-run-panel.png")
    t = step(timings, "commit_and_run_s", t)
    expect(page.locator("#runs")).to_contain_text("succeeded")

    page.get_by_label("Ask", exact=True).fill("Why did the job fail?")
    page.get_by_role("button", name="Ask").click()
    expect(page.locator("#answers li").first.locator(".a")).to_contain_text("timeout_error")
    page.get_by_label("Ask", exact=True).fill("Which test framework and why?")
    page.get_by_label("Ask", exact=True).press("Enter")
    answer = page.locator("#answers li").first
    expect(answer.locator(".a")).to_contain_text("pytest")
    expect(answer.locator(".a")).to_contain_text("requirements")
    answer.locator(".sources summary").click()
    expect(answer.locator(".sources")).to_contain_text("test_framework")
    expect(answer.locator(".by")).to_contain_text("model:fake-chat")
    shot("5-ask")
    page.locator("#ask").screenshot(path=f"{args.screenshots}/5-ask-panel.png")
    step(timings, "ask_s", t)


def token_flow(page, args, shot, timings, problems):
    t = time.monotonic()
    page.goto(args.base + "/")
    expect(page.get_by_label("API token")).to_be_visible()
    expect(page.locator("#main")).to_be_hidden()
    expect(page.locator("#health li")).to_have_count(0)
    shot("6-token-asked")
    page.get_by_label("API token").fill("not-the-token")
    page.get_by_label("API token").press("Enter")
    expect(page.locator("#token-error")).to_contain_text("not accepted")
    expect(page.locator("#main")).to_be_hidden()
    shot("7-token-refused")
    page.get_by_label("API token").fill(args.token)
    page.get_by_role("button", name="Use token").click()
    expect(page.locator("#main")).to_be_visible()
    expect(page.get_by_label("Repository")).to_be_visible()
    expect(page.locator("#templates li").first).to_be_visible()
    shot("8-token-accepted")
    # The 401s of the wrong token are the browser's own console lines, not the page's errors.
    problems[:] = [p for p in problems if "401" not in p]
    step(timings, "token_s", t)


if __name__ == "__main__":
    sys.exit(main())

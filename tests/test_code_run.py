"""The code server as hosts use it, over stdio: state across calls, values, errors, plots, files, the shell,
attachments, the scientific stack and isolated sessions."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from tests.code_helpers import png_images, run, shell
from tests.mcp_servers import stdio_client_for

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("inputs")
    (folder / "sales.csv").write_text("region,amount\nnorth,10\nsouth,32\nnorth,5\n")
    folder.chmod(0o755)
    (folder / "sales.csv").chmod(0o644)
    return folder


@pytest.fixture(scope="module")
async def client(tmp_path_factory: pytest.TempPathFactory, inputs: Path):
    home = tmp_path_factory.mktemp("home")
    async with stdio_client_for("code", env={"MEMENTO_HOME": str(home), "MEMENTO_CODE_INPUTS": str(inputs)}) as client:
        yield client


async def test_variables_imports_and_functions_persist_across_calls(client) -> None:
    await run(client, "import math\ncounter = 41\ndef bump(n):\n    return n + 1", session="state")
    result, text, data = await run(client, "counter = bump(counter)\nmath.sqrt(counter * counter)", session="state")
    assert not result.is_error and text == "Out: 42.0" and data["value"] == "42.0"


async def test_stdout_stderr_and_the_last_value_come_back_separately(client) -> None:
    _result, text, data = await run(client, "import sys\nprint('to out')\nprint('to err', file=sys.stderr)\n{'a': 1}")
    assert data["stdout"] == "to out\n" and data["stderr"] == "to err\n" and data["value"] == "{'a': 1}"
    assert data["ok"] and "stdout:\nto out" in text and "stderr:\nto err" in text and "Out: {'a': 1}" in text


async def test_an_exception_returns_the_traceback_of_the_code_only(client) -> None:
    result, text, data = await run(client, "def f():\n    return 1 / 0\nprint('before')\nf()")
    assert result.is_error and data["stdout"] == "before\n"
    assert 'File "<cell' in data["error"] and "return 1 / 0" in data["error"] and "ZeroDivisionError" in data["error"]
    assert "kernel.py" not in text


async def test_a_syntax_error_names_the_line_and_the_session_goes_on(client) -> None:
    result, text, data = await run(client, "x = 1\ndef f(:\n    pass", session="syntax")
    assert result.is_error and "SyntaxError" in data["error"] and "line 2" in data["error"] and "ast.py" not in text
    result, text, _ = await run(client, "2 + 2", session="syntax")
    assert text == "Out: 4"


async def test_top_level_await_works(client) -> None:
    _, text, _ = await run(client, "import asyncio\nawait asyncio.sleep(0)\n'awaited'")
    assert text == "Out: 'awaited'"


async def test_matplotlib_figures_come_back_as_png_images(client) -> None:
    code = (
        "import matplotlib.pyplot as plt\n"
        "plt.plot([1, 2, 3], [1, 4, 9]); plt.title('squares')\n"
        "plt.figure(); plt.bar(['a', 'b'], [3, 5])\n"
        "None"
    )
    result, _text, data = await run(client, code, timeout_s=60)
    images = png_images(result)
    assert not result.is_error and data["images"] == 2 and len(images) == 2
    from PIL import Image

    for image in images:
        assert image.startswith(b"\x89PNG") and Image.open(io.BytesIO(image)).size[0] > 100
    result, _, data = await run(client, "1")  # figures are closed once returned
    assert data["images"] == 0 and png_images(result) == []


async def test_the_scientific_stack_is_importable_in_the_sandbox(client) -> None:
    code = (
        "import numpy, pandas, scipy, sympy, matplotlib, openpyxl\n"
        "from scipy import optimize\n"
        "x = sympy.symbols('x')\n"
        "root = optimize.brentq(lambda v: v**2 - 2, 0, 2)\n"
        "(round(root, 6), str(sympy.integrate(x**2, x)), pandas.DataFrame({'a': [1, 2]})['a'].sum().item())"
    )
    result, text, _ = await run(client, code, timeout_s=120)
    assert not result.is_error, text
    assert text == "Out: (1.414214, 'x**3/3', 3)"


async def test_files_the_code_writes_are_reported_and_readable(client) -> None:
    code = (
        "import pandas as pd, os\n"
        "os.makedirs('out', exist_ok=True)\n"
        "pd.DataFrame({'n': range(3)}).to_csv('out/table.csv', index=False)\n"
        "open('notes.txt', 'w').write('line\\n' * 5000)"
    )
    _result, text, data = await run(client, code, session="files", timeout_s=60)
    assert {(f["path"], f["change"]) for f in data["files"]} == {("out/table.csv", "created"), ("notes.txt", "created")}
    assert "out/table.csv (created" in text
    read = await client.call_tool("read_file", {"path": "out/table.csv", "session": "files"})
    assert "n\n0\n1\n2\n" in read.content[0].text
    first = await client.call_tool("read_file", {"path": "notes.txt", "session": "files", "max_length": 1000})
    assert first.structured_content["next_start_index"] == 1000 and "start_index=1000" in first.content[0].text
    listing = await client.call_tool("list_files", {"session": "files", "recursive": True})
    paths = [e["path"] for e in listing.structured_content["entries"]]
    assert paths == ["notes.txt", "out", "out/table.csv"]


async def test_written_files_are_seen_by_the_code_and_images_and_binaries_are_described(client) -> None:
    wrote = await client.call_tool("write_file", {"path": "in/data.txt", "content": "3\n4\n", "session": "files2"})
    assert not wrote.is_error and wrote.structured_content == {"path": "/workspace/in/data.txt", "size": 4}
    _, text, _ = await run(client, "sum(int(v) for v in open('in/data.txt'))", session="files2")
    assert text == "Out: 7"
    await run(
        client,
        "import matplotlib.pyplot as plt\nplt.plot([1, 2]); plt.savefig('p.png'); plt.close('all')\n"
        "open('blob.bin', 'wb').write(bytes(range(256)) * 4)",
        session="files2",
        timeout_s=60,
    )
    image = await client.call_tool("read_file", {"path": "p.png", "session": "files2"})
    assert image.content[1].type == "image" and image.structured_content["media_type"] == "image/png"
    blob = await client.call_tool("read_file", {"path": "blob.bin", "session": "files2"})
    assert not blob.is_error and "binary file" in blob.content[0].text and "1.0 KiB" in blob.content[0].text


async def test_non_utf8_output_is_shown_escaped(client) -> None:
    code = "import sys, os\nsys.stdout.buffer.write(b'py:\\xff\\xfe\\n'); sys.stdout.flush()\nos.write(1, b'fd:\\xc3\\x28\\n')"
    _result, _text, data = await run(client, code)
    assert "py:\\xff\\xfe" in data["stdout"] and "fd:\\xc3(" in data["stdout"]
    _, _text, data = await shell(client, "printf 'sh:\\377\\n'")
    assert data["stdout"] == "sh:\\xff\n"


async def test_the_shell_runs_in_the_same_workspace_and_reports_its_exit_code(client) -> None:
    await run(client, "open('words.txt', 'w').write('pear\\napple\\nfig\\n')", session="sh")
    result, text, data = await shell(client, "sort words.txt && wc -l < words.txt", session="sh")
    assert data["stdout"] == "apple\nfig\npear\n3\n" and data["exit_code"] == 0 and not result.is_error
    result, text, data = await shell(client, "grep -q kiwi words.txt", session="sh")
    assert data["exit_code"] == 1 and "exit code 1" in text and not result.is_error


async def test_attachments_are_readable_at_inputs_and_cannot_be_changed(client, inputs: Path) -> None:
    code = "import pandas as pd\npd.read_csv('/inputs/sales.csv').groupby('region')['amount'].sum().to_dict()"
    _, text, _ = await run(client, code, session="att", timeout_s=60)
    assert text == "Out: {'north': 15, 'south': 32}"
    result, text, data = await run(client, "open('/inputs/sales.csv', 'a').write('x')", session="att")
    assert result.is_error and ("Read-only file system" in data["error"] or "Permission denied" in data["error"])
    denied = await client.call_tool("write_file", {"path": "/inputs/new.txt", "content": "x", "session": "att"})
    assert denied.is_error and "read-only" in denied.content[0].text
    read = await client.call_tool("read_file", {"path": "/inputs/sales.csv", "session": "att"})
    assert "north,10" in read.content[0].text
    assert sorted(p.name for p in inputs.iterdir()) == ["sales.csv"]
    assert inputs.joinpath("sales.csv").read_text().endswith("north,5\n")


async def test_sessions_are_isolated_from_each_other(client) -> None:
    await run(client, "secret_value = 'alpha-only'\nopen('alpha.txt', 'w').write('alpha file')", session="alpha")
    result, _, data = await run(client, "secret_value", session="beta")
    assert result.is_error and "NameError" in data["error"]
    _, text, _ = await run(client, "import os\nsorted(os.listdir('.'))", session="beta")
    assert "alpha.txt" not in text
    read = await client.call_tool("read_file", {"path": "../alpha/alpha.txt", "session": "beta"})
    assert read.is_error and "alpha file" not in read.content[0].text
    _, text, _ = await shell(client, "ls /proc | grep -c '^[0-9]'; cat /proc/*/cmdline 2>/dev/null | tr '\\0' ' '", session="beta")
    assert "alpha" not in text  # beta sees only its own processes


async def test_sessions_are_listed_and_reset(client) -> None:
    await run(client, "kept_file = open('k.txt', 'w').write('k')\nvalue = 1", session="reset-me")
    listing = await client.call_tool("list_sessions", {})
    names = {s["name"]: s for s in listing.structured_content["sessions"]}
    assert names["reset-me"]["running"] and names["reset-me"]["calls"] >= 1 and listing.structured_content["sandbox"] == "bwrap"
    reset = await client.call_tool("reset_session", {"session": "reset-me"})
    assert not reset.is_error and reset.structured_content["running"] is False
    result, _, data = await run(client, "value", session="reset-me")
    assert result.is_error and "NameError" in data["error"]
    _, text, _ = await run(client, "open('k.txt').read()", session="reset-me")
    assert text == "Out: 'k'"
    await client.call_tool("reset_session", {"session": "reset-me", "delete_files": True})
    _, text, _ = await run(client, "import os\nos.listdir('.')", session="reset-me")
    assert text == "Out: []"


async def test_bad_arguments_are_clear_errors(client) -> None:
    cases = [
        ("run_python", {"code": "1", "session": "../etc"}, "session"),
        ("run_python", {"code": "1", "timeout_s": 100000}, "MEMENTO_CODE_MAX_TIMEOUT_S"),
        ("run_python", {"code": "   "}, "empty"),
        ("read_file", {"path": "missing.txt"}, "does not exist"),
        ("list_files", {"path": "/etc"}, "outside /workspace"),
    ]
    for tool, arguments, expected in cases:
        result = await client.call_tool(tool, arguments)
        assert result.is_error and expected in result.content[0].text, (tool, arguments, result.content[0].text)

"""Retrieval on small real trees: ranking, named files, repository map, token budget."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bot.repo.retrieval import (
    LexicalIndex,
    estimate_tokens,
    named_files,
    rank_files,
    repo_map,
    select_context,
    source_files,
    tokenize,
)


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    files = {
        "shop/__init__.py": "",
        "shop/cart.py": (
            "class ShoppingCart:\n    def add_item(self, item, quantity=1):\n"
            "        self.items.append((item, quantity))\n\n"
            "    def total_price(self):\n        return sum(i.price * q for i, q in self.items)\n"
        ),
        "shop/payment.py": (
            "def charge_card(card_number, amount):\n    '''Charge a credit card.'''\n"
            "    return gateway.charge(card_number, amount)\n"
        ),
        "shop/discounts.py": "def apply_coupon(total, code):\n    return total * 0.9\n",
        "shop/utils/money.py": "def round_cents(value):\n    return round(value, 2)\n",
        "docs/index.md": "# Shop\nA tiny shop.\n",
        "tests/test_cart.py": "from shop.cart import ShoppingCart\n",
        "node_modules/lib/index.js": "function totalPrice() { return 1 }\n",
        "big.py": "x = 1\n" * 100_000,
    }
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (root / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00cart")
    subprocess.run(["git", "init", "--quiet"], cwd=root, check=True)
    subprocess.run(["git", "add", "."], cwd=root, check=True)
    return root


def test_tokenize_splits_camel_and_snake_case_and_keeps_the_identifier() -> None:
    terms = list(tokenize("ShoppingCart.add_item HTTPServer"))
    assert terms == [
        "shopping",
        "cart",
        "shoppingcart",
        "add",
        "item",
        "add_item",
        "http",
        "server",
        "httpserver",
    ]


def test_vendored_binary_and_huge_files_are_skipped(tree: Path) -> None:
    files = source_files(tree)
    assert "shop/cart.py" in files
    assert not any(f.startswith("node_modules/") for f in files)
    assert "logo.png" not in files and "big.py" not in files


def test_untracked_trees_are_walked_too(tree: Path) -> None:
    subprocess.run(["rm", "-rf", str(tree / ".git")], check=True)
    assert "shop/payment.py" in source_files(tree)
    assert "node_modules/lib/index.js" not in source_files(tree)


@pytest.mark.parametrize(
    ("request_text", "expected"),
    [
        ("The cart total price is wrong when an item has a quantity", "shop/cart.py"),
        ("Charging a credit card twice should fail", "shop/payment.py"),
        ("Coupon codes should give 10% off", "shop/discounts.py"),
        ("round cents properly for money values", "shop/utils/money.py"),
    ],
    ids=["cart", "payment", "coupon", "money"],
)
def test_the_right_file_ranks_first(tree: Path, request_text: str, expected: str) -> None:
    ranked = rank_files(tree, request_text, limit=3)
    assert ranked[0].path == expected
    assert ranked[0].reason == "bm25" and ranked[0].score > ranked[1].score


def test_files_named_in_the_request_come_first(tree: Path) -> None:
    request = "Totals are wrong; see shop/payment.py and discounts.py, maybe shop.cart.ShoppingCart"
    ranked = rank_files(tree, request, limit=5)
    assert [r.path for r in ranked[:3]] == ["shop/payment.py", "shop/discounts.py", "shop/cart.py"]
    assert all(r.reason == "named" for r in ranked[:3])
    assert len({r.path for r in ranked}) == len(ranked)


def test_named_files_ignore_mentions_that_are_not_files() -> None:
    assert named_files("e.g. use self.items and v1.2 of foo.txt", ["shop/cart.py"]) == []


def test_index_is_reusable_across_requests(tree: Path) -> None:
    index = LexicalIndex.build(tree)
    assert index.rank("credit card", 1)[0].path == "shop/payment.py"
    assert index.rank("coupon", 1)[0].path == "shop/discounts.py"


def test_repo_map_is_a_tree_that_collapses_to_fit(tree: Path) -> None:
    full = repo_map(tree, max_chars=10_000)
    assert "shop/\n  __init__.py\n  cart.py" in full
    assert "  utils/\n    money.py" in full
    small = repo_map(tree, max_chars=80)
    assert len(small) <= 80
    assert "shop/ (5 files)" in small


@pytest.mark.parametrize("budget", [300, 600, 5000], ids=["tight", "medium", "roomy"])
def test_context_respects_the_token_budget(tree: Path, budget: int) -> None:
    context = select_context(tree, "cart total price quantity", budget)
    assert context.tokens <= budget
    assert context.files and context.files[0].path == "shop/cart.py"
    assert "## File: shop/cart.py" in context.render()


def test_context_leaves_out_what_does_not_fit_and_says_so(tree: Path) -> None:
    (tree / "shop" / "cart.py").write_text("# cart total price\n" + "pass\n" * 400)
    context = select_context(tree, "cart total price coupon", 500)
    assert "shop/cart.py" in context.omitted
    assert "shop/discounts.py" in [f.path for f in context.files]
    assert context.tokens <= 500


def test_named_file_too_big_is_included_truncated(tree: Path) -> None:
    (tree / "shop" / "cart.py").write_text("# cart\n" + "pass\n" * 2000)
    context = select_context(tree, "fix shop/cart.py", 1200)
    first = context.files[0]
    assert first.path == "shop/cart.py" and first.truncated
    assert context.tokens <= 1200
    assert estimate_tokens(first.content) < estimate_tokens((tree / "shop/cart.py").read_text())

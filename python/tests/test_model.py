"""Model-based: 20,000+ random operations on nested maps, vectors and sets,
each applied by a swap (with the views' building methods) and to a plain
Python model, the two compared after every operation.  Seeded: a failure
names the seed and the step, and replays."""
import os
import random

import eve

STEPS = int(os.environ.get("EVE_PY_MODEL_STEPS", "20000"))
SEED = int(os.environ.get("EVE_PY_MODEL_SEED", "12"))

KEYS = ["a", "b", "long key number %d" % 7, 1, 2, -3, eve.Keyword("k"), (1, 2), None, 2**62]


def scalar(rng):
    return rng.choice([rng.randint(-5, 5), rng.randint(-2**63, 2**63 - 1), rng.random(),
                       rng.choice(KEYS), "s%d" % rng.randint(0, 9), b"\x00b", True, None])


def fresh(rng, depth=0):
    r = rng.random()
    if depth > 2 or r < 0.5:
        return scalar(rng)
    if r < 0.7:
        return {rng.choice(KEYS): fresh(rng, depth + 1) for _ in range(rng.randint(0, 3))}
    if r < 0.9:
        return [fresh(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {rng.randint(0, 20) for _ in range(rng.randint(0, 3))}


def pick_path(rng, model):
    """A path to a random collection inside model (model itself included)."""
    path, node = [], model
    while rng.random() < 0.6:
        kids = []
        if isinstance(node, dict):
            kids = [(k, v) for k, v in node.items() if isinstance(v, (dict, list, set))]
        elif isinstance(node, list):
            kids = [(i, v) for i, v in enumerate(node) if isinstance(v, (dict, list, set))]
        if not kids:
            break
        k, node = rng.choice(kids)
        path.append(k)
    return path, node


def plan(rng, node):
    """An operation for the collection node: (name, args)."""
    if isinstance(node, dict):
        ops = [("assoc", (rng.choice(KEYS), fresh(rng)))] * 3
        if node:
            ops.append(("dissoc", (rng.choice(list(node)),)))
        ops.append(("dissoc", (rng.choice(KEYS),)))
        return rng.choice(ops)
    if isinstance(node, list):
        ops = [("conj", (fresh(rng),))]
        if node:
            ops += [("pop", ()), ("assoc", (rng.randrange(len(node)), fresh(rng)))]
        return rng.choice(ops)
    ops = [("conj", (rng.randint(0, 20),))]
    if node:
        ops.append(("disj", (rng.choice(list(node)),)))
    return rng.choice(ops)


def apply_model(node, op, args):
    if isinstance(node, dict):
        node = dict(node)
        if op == "assoc":
            node[args[0]] = args[1]
        else:
            node.pop(args[0], None)
    elif isinstance(node, list):
        node = list(node)
        if op == "conj":
            node.append(args[0])
        elif op == "pop":
            node.pop()
        else:
            node[args[0]] = args[1]
    else:
        node = set(node)
        if op == "conj":
            node.add(args[0])
        else:
            node.discard(args[0])
    return node


def update_in(node, path, fn):
    if not path:
        return fn(node)
    k = path[0]
    if isinstance(node, (eve.Map, eve.Vector)):
        return node.assoc(k, update_in(node[k], path[1:], fn))
    if isinstance(node, dict):
        return {**node, k: update_in(node[k], path[1:], fn)}
    out = list(node)
    out[k] = update_in(node[k], path[1:], fn)
    return out


def normalise(x):
    """Tuples inside the model read back as vectors (lists)."""
    if isinstance(x, dict):
        return {k: normalise(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [normalise(v) for v in x]
    return x


def test_random_operations_match_a_python_model():
    rng = random.Random(SEED)
    d = eve.open(max_size=256 << 20)
    a = d.atom("model")
    model = {"root": {}, "vec": [], "set": set()}
    a.reset(model)
    kept = []  # old views, checked again at the end
    for step in range(STEPS):
        path, node = pick_path(rng, model)
        op, args = plan(rng, node)
        model = update_in(model, path, lambda n: apply_model(n, op, args))
        got = a.swap(lambda m: update_in(m, path, lambda n: getattr(n, op)(*args)))
        expect = normalise(model)
        assert got == expect, "seed %d step %d: %s %r at %r" % (SEED, step, op, args, path)
        if step % 500 == 0:
            assert got.to_python() == expect
            kept.append((got, expect))
        if len(str(model)) > 4000:  # keep it small: restart the subtree
            model["root"] = {}
            a.swap(lambda m: m.assoc("root", {}))
    for view, expect in kept:
        assert view == expect
    del kept, got
    assert d.check()["problems"] == 0
    d.close()

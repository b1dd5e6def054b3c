"""The Python side of the JVM interop test: increment atom ATOM of FILE N
times (nil counts as 0), or with `write`, store a value for the JVM to read.

    python eve_py_counter.py FILE ATOM N
    python eve_py_counter.py FILE ATOM write
"""
import sys
import uuid

import eve


def main(path, name, n):
    with eve.open(path) as d:
        a = d.atom(name)
        if n == "write":
            a.reset({eve.Keyword("from"): "python", "v": [1, 2.5, None, True],
                     eve.Keyword("u"): uuid.UUID(int=7), "s": {eve.Keyword("x")}})
            return
        for _ in range(int(n)):
            a.swap(lambda v: (v or 0) + 1)


if __name__ == "__main__":
    main(*sys.argv[1:])

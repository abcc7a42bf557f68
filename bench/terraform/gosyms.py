"""Function names of a stripped Go binary (such as the released `terraform`), for perf samples.

HashiCorp strips the ELF symbol table, so `perf report` shows terraform's samples as
`[unknown]`; the Go runtime's own function table (`.gopclntab`, Go 1.18+ layout) is still
there. `GoSymbols(path).lookup(address)` names the function holding an address of a non-PIE
binary (as terraform is). Python stdlib only.
"""

from __future__ import annotations

import bisect
import struct


class GoSymbols:
    def __init__(self, path: str):
        with open(path, "rb") as f:
            elf = f.read()
        if elf[:4] != b"\x7fELF" or elf[4] != 2:
            raise ValueError(f"{path}: not a 64-bit ELF file")
        (shoff,) = struct.unpack_from("<Q", elf, 0x28)
        shentsize, shnum, shstrndx = struct.unpack_from("<HHH", elf, 0x3A)

        def section(i: int) -> tuple[int, int, int, int]:
            name, _typ, _flags, addr, off, size = struct.unpack_from("<IIQQQQ", elf, shoff + i * shentsize)
            return name, addr, off, size

        _, _, stroff, _ = section(shstrndx)
        pcln = None
        self.delta = 0
        for i in range(shnum):
            name, addr, off, size = section(i)
            end = elf.index(b"\0", stroff + name)
            if elf[stroff + name:end] == b".gopclntab":
                pcln = elf[off:off + size]
            if elf[stroff + name:end] == b".text":
                # perf prints unresolved user addresses as file offsets.
                self.delta = addr - off
        if pcln is None:
            raise ValueError(f"{path}: no .gopclntab section")
        magic, _, _, _min_lc, ptr = struct.unpack_from("<IBBBB", pcln, 0)
        if magic not in (0xFFFFFFF0, 0xFFFFFFF1) or ptr != 8:
            raise ValueError(f"{path}: unsupported pclntab (magic {magic:#x})")
        nfunc, _nfiles, text, funcname, _cu, _filetab, _pctab, functab = struct.unpack_from("<8Q", pcln, 8)
        starts: list[int] = []
        names: list[str] = []
        for i in range(nfunc):
            entry, funcoff = struct.unpack_from("<II", pcln, functab + 8 * i)
            _entry, name_off = struct.unpack_from("<Ii", pcln, functab + funcoff)
            s = funcname + name_off
            e = pcln.index(b"\0", s)
            starts.append(text + entry)
            names.append(pcln[s:e].decode("utf-8", "replace"))
        (end_off,) = struct.unpack_from("<I", pcln, functab + 8 * nfunc)
        self.starts, self.names, self.end = starts, names, text + end_off

    def lookup_offset(self, offset: int) -> str | None:
        """The function at a file offset, as `perf script` prints unresolved addresses."""
        return self.lookup(offset + self.delta)

    def lookup(self, address: int) -> str | None:
        """The function at a virtual address."""
        if not self.starts or address < self.starts[0] or address >= self.end:
            return None
        return self.names[bisect.bisect_right(self.starts, address) - 1]


def package(function: str) -> str:
    """The import path of a Go function name: `github.com/zclconf/go-cty/cty.Value.Type`
    -> `github.com/zclconf/go-cty/cty`; `runtime.mallocgc` -> `runtime`."""
    slash = function.rfind("/")
    dot = function.find(".", slash + 1)
    return function[:dot] if dot > 0 else function


if __name__ == "__main__":
    import sys

    syms = GoSymbols(sys.argv[1])
    print(len(syms.names), "functions")
    for a in sys.argv[2:]:
        print(a, syms.lookup(int(a, 16)), "as a file offset:", syms.lookup_offset(int(a, 16)))

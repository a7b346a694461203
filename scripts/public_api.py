#!/usr/bin/env python3
"""Lists a crate's public API, one item per line, from its rustdoc JSON.

Usage: public_api.py <crate.json>

The list is what a user of the crate can name: every public item reachable from the crate root
(through public modules and `pub use`), with the signatures of functions and methods, the
fields of structs, the variants of enums, and the traits each type implements (auto traits
included, blanket impls left out, since they follow from the others). Items rustdoc hides
(`#[doc(hidden)]`) are not part of the API and are not listed.

`scripts/public-api.sh` compares these lists with the ones committed under `api/`, so that a
change to the public surface is always a deliberate, reviewed change.
"""

import json
import sys


# Traits the compiler implements that are not stable to name: whether a type implements them
# changes with the toolchain, not with the crate.
UNSTABLE_TRAITS = {"Freeze", "StructuralPartialEq", "UnsafeUnpin"}


class Api:
    def __init__(self, doc):
        self.doc = doc
        self.index = doc["index"]
        self.lines = set()

    def item(self, item_id):
        return self.index.get(str(item_id))

    # --------------------------------------------------------------------------------- types

    def ty(self, t):
        if t is None:
            return "()"
        (kind, v), = t.items()
        if kind == "resolved_path":
            return v["path"] + self.args(v.get("args"))
        if kind == "generic" or kind == "primitive":
            return v
        if kind == "borrowed_ref":
            lifetime = v["lifetime"] + " " if v.get("lifetime") else ""
            mutability = "mut " if v["is_mutable"] else ""
            return f"&{lifetime}{mutability}{self.ty(v['type'])}"
        if kind == "raw_pointer":
            return ("*mut " if v["is_mutable"] else "*const ") + self.ty(v["type"])
        if kind == "slice":
            return f"[{self.ty(v)}]"
        if kind == "array":
            return f"[{self.ty(v['type'])}; {v['len']}]"
        if kind == "tuple":
            return "(" + ", ".join(self.ty(x) for x in v) + ("," if len(v) == 1 else "") + ")"
        if kind == "impl_trait":
            return "impl " + " + ".join(self.bound(b) for b in v)
        if kind == "dyn_trait":
            traits = [self.poly_trait(p) for p in v["traits"]]
            if v.get("lifetime"):
                traits.append(v["lifetime"])
            return "dyn " + " + ".join(traits)
        if kind == "qualified_path":
            trait = v.get("trait")
            self_ty = self.ty(v["self_type"])
            if trait:
                return f"<{self_ty} as {self.trait_path(trait)}{self.args(trait.get('args'))}>::{v['name']}"
            return f"{self_ty}::{v['name']}"
        if kind == "function_pointer":
            sig = v["sig"]
            inputs = ", ".join(self.ty(t) for _, t in sig["inputs"])
            out = sig.get("output")
            return f"fn({inputs})" + (f" -> {self.ty(out)}" if out else "")
        if kind == "infer":
            return "_"
        return f"<{kind}>"

    def args(self, args):
        if not args:
            return ""
        (kind, v), = args.items()
        if kind == "angle_bracketed":
            parts = []
            for a in v.get("args", []):
                (ak, av), = a.items()
                if ak == "type":
                    parts.append(self.ty(av))
                elif ak == "lifetime":
                    parts.append(av)
                elif ak == "const":
                    parts.append(av.get("expr", "_"))
                else:
                    parts.append("_")
            for c in v.get("constraints", []):
                binding = c.get("binding", {})
                if "equality" in binding:
                    eq = binding["equality"]
                    value = self.ty(eq["type"]) if "type" in eq else str(eq)
                    parts.append(f"{c['name']} = {value}")
                else:
                    bounds = binding.get("constraint", [])
                    parts.append(f"{c['name']}: " + " + ".join(self.bound(b) for b in bounds))
            return "<" + ", ".join(parts) + ">" if parts else ""
        if kind == "parenthesized":
            inputs = ", ".join(self.ty(t) for t in v["inputs"])
            out = v.get("output")
            return f"({inputs})" + (f" -> {self.ty(out)}" if out else "")
        return ""

    def trait_path(self, trait):
        """A trait's path as written, or its last segment from rustdoc's paths when none is."""
        if trait.get("path"):
            return trait["path"]
        known = self.doc["paths"].get(str(trait.get("id")))
        return known["path"][-1] if known else "_"

    def poly_trait(self, p):
        return p["trait"]["path"] + self.args(p["trait"].get("args"))

    def bound(self, b):
        (kind, v), = b.items()
        if kind == "trait_bound":
            prefix = "?" if v.get("modifier") == "maybe" else ""
            return prefix + v["trait"]["path"] + self.args(v["trait"].get("args"))
        if kind == "outlives":
            return v
        if kind == "use":
            # Precise capturing, `use<'a, T>`.
            names = [next(iter(x.values())) for x in v]
            return "use<" + ", ".join(names) + ">"
        return f"<{kind}>"

    def generics(self, g):
        params = []
        for p in g.get("params", []):
            (kind, v), = p["kind"].items()
            if kind == "type":
                if v.get("is_synthetic"):
                    continue  # `impl Trait` in argument position, shown there
                bounds = " + ".join(self.bound(b) for b in v.get("bounds", []))
                params.append(p["name"] + (f": {bounds}" if bounds else ""))
            elif kind == "lifetime":
                params.append(p["name"])
            elif kind == "const":
                params.append(f"const {p['name']}: {self.ty(v['type'])}")
        return "<" + ", ".join(params) + ">" if params else ""

    def where(self, g):
        preds = []
        for p in g.get("where_predicates", []):
            (kind, v), = p.items()
            if kind == "bound_predicate":
                bounds = " + ".join(self.bound(b) for b in v["bounds"])
                preds.append(f"{self.ty(v['type'])}: {bounds}")
        return " where " + ", ".join(preds) if preds else ""

    def fn_sig(self, name, f):
        header = f.get("header", {})
        quals = "".join(
            q + " "
            for q, on in (
                ("const", header.get("is_const")),
                ("async", header.get("is_async")),
                ("unsafe", header.get("is_unsafe")),
            )
            if on
        )
        inputs = []
        for arg_name, t in f["sig"]["inputs"]:
            if arg_name == "self":
                rendered = self.ty(t)
                inputs.append({"Self": "self", "&Self": "&self", "&mut Self": "&mut self"}.get(
                    rendered, f"self: {rendered}"))
            else:
                inputs.append(f"{arg_name}: {self.ty(t)}")
        out = f["sig"].get("output")
        ret = f" -> {self.ty(out)}" if out else ""
        g = f.get("generics", {})
        return f"{quals}fn {name}{self.generics(g)}({', '.join(inputs)}){ret}{self.where(g)}"

    # --------------------------------------------------------------------------------- items

    def add(self, line):
        self.lines.add(line)

    def walk_module(self, module_id, path, seen):
        if module_id in seen:
            return
        seen = seen | {module_id}
        module = self.item(module_id)
        for child_id in module["inner"]["module"]["items"]:
            self.walk(child_id, path, seen)

    def walk(self, item_id, path, seen, name=None):
        item = self.item(item_id)
        if item is None or item["visibility"] != "public":
            return
        (kind, inner), = item["inner"].items()
        name = name or item["name"]
        if kind == "use":
            self.walk_use(inner, path, seen)
            return
        full = f"{path}::{name}"
        if kind == "module":
            self.add(f"pub mod {full}")
            self.walk_module(item_id, full, seen)
        elif kind == "function":
            self.add(f"pub {self.fn_sig(full, inner)}")
        elif kind == "struct":
            self.walk_struct(full, inner)
        elif kind == "enum":
            self.walk_enum(full, inner)
        elif kind == "trait":
            self.walk_trait(full, inner)
        elif kind == "constant":
            self.add(f"pub const {full}: {self.ty(inner['type'])}")
        elif kind == "static":
            self.add(f"pub static {full}: {self.ty(inner['type'])}")
        elif kind == "type_alias":
            self.add(f"pub type {full}{self.generics(inner['generics'])} = {self.ty(inner['type'])}")
        elif kind in ("macro", "proc_macro"):
            self.add(f"pub macro {full}!")
        else:
            self.add(f"pub {kind} {full}")

    def walk_use(self, use, path, seen):
        target = self.item(use["id"]) if use.get("id") is not None else None
        if target is None:
            # An item of another crate re-exported as it is.
            self.add(f"pub use {path}::{use['name']} = {use['source']}")
            return
        if use["is_glob"]:
            self.walk_module(use["id"], path, seen)
            return
        self.walk(use["id"], path, seen, name=use["name"])

    def walk_struct(self, full, s):
        generics = self.generics(s["generics"])
        (kind, v), = s["kind"].items() if isinstance(s["kind"], dict) else (("unit", None),)
        self.add(f"pub struct {full}{generics}")
        if kind == "plain":
            for field_id in v["fields"]:
                f = self.item(field_id)
                if f and f["visibility"] == "public":
                    self.add(f"pub {full}::{f['name']}: {self.ty(f['inner']['struct_field'])}")
            if v.get("has_stripped_fields"):
                self.add(f"{full} has private fields")
        elif kind == "tuple":
            fields = []
            for field_id in v:
                f = self.item(field_id) if field_id is not None else None
                fields.append(self.ty(f["inner"]["struct_field"]) if f and f["visibility"] == "public" else "_")
            self.add(f"pub struct {full}({', '.join(fields)})")
        self.walk_impls(full, s["impls"])

    def walk_enum(self, full, e):
        self.add(f"pub enum {full}{self.generics(e['generics'])}")
        for variant_id in e["variants"]:
            v = self.item(variant_id)
            variant = v["inner"]["variant"]
            (kind, fields), = variant["kind"].items() if isinstance(variant["kind"], dict) else (("plain", None),)
            vname = f"{full}::{v['name']}"
            if kind == "tuple":
                tys = [self.ty(self.item(f)["inner"]["struct_field"]) if f is not None else "_" for f in fields]
                self.add(f"pub {vname}({', '.join(tys)})")
            elif kind == "struct":
                names = []
                for f in fields["fields"]:
                    fi = self.item(f)
                    names.append(f"{fi['name']}: {self.ty(fi['inner']['struct_field'])}")
                self.add(f"pub {vname} {{ {', '.join(names)} }}")
            else:
                self.add(f"pub {vname}")
        self.walk_impls(full, e["impls"])

    def walk_trait(self, full, t):
        self.add(f"pub trait {full}{self.generics(t['generics'])}")
        for member_id in t["items"]:
            m = self.item(member_id)
            (kind, inner), = m["inner"].items()
            mname = f"{full}::{m['name']}"
            if kind == "function":
                provided = " (provided)" if inner.get("has_body") else ""
                self.add(f"pub {self.fn_sig(mname, inner)}{provided}")
            elif kind == "assoc_type":
                self.add(f"pub type {mname}")
            elif kind == "assoc_const":
                self.add(f"pub const {mname}: {self.ty(inner['type'])}")

    def walk_impls(self, full, impl_ids):
        for impl_id in impl_ids:
            impl = self.item(impl_id)
            if impl is None:
                continue
            i = impl["inner"]["impl"]
            if i.get("blanket_impl") is not None:
                continue
            generics = self.generics(i["generics"])
            where = self.where(i["generics"])
            if i.get("trait"):
                trait = i["trait"]
                if trait["path"] in UNSTABLE_TRAITS:
                    continue
                neg = "!" if i.get("is_negative") else ""
                for_args = i["for"].get("resolved_path", {}).get("args")
                self.add(f"impl{generics} {neg}{trait['path']}{self.args(trait.get('args'))} "
                         f"for {full}{self.args(for_args)}{where}")
                continue
            for member_id in i["items"]:
                m = self.item(member_id)
                if m is None or m["visibility"] != "public":
                    continue
                (kind, inner), = m["inner"].items()
                mname = f"{full}::{m['name']}"
                if kind == "function":
                    self.add(f"pub {self.fn_sig(mname, inner)}")
                elif kind == "assoc_const":
                    self.add(f"pub const {mname}: {self.ty(inner['type'])}")


def main():
    doc = json.load(open(sys.argv[1]))
    api = Api(doc)
    root = api.item(doc["root"])
    api.walk_module(doc["root"], root["name"], frozenset())
    for line in sorted(api.lines):
        print(line)


if __name__ == "__main__":
    main()

"""Run pyxform on each XLSForm named on the command line and print, as JSON, the binds of the
XForm it makes: {form stem: {field name: {relevant, constraint, calculate, required, readonly,
type}}}, each a boolean (whether the bind sets it to something other than false()) except type.
Used by core/tests/xlsform_pyxform.rs to compare pyxform's reading with SafeHome's importer."""

import json
import pathlib
import sys
import xml.etree.ElementTree as ET

from pyxform.xls2xform import convert

XF = "{http://www.w3.org/2002/xforms}"


def binds(path):
    xform = convert(xlsform=str(path)).xform
    root = ET.fromstring(xform)
    out = {}
    for bind in root.iter(XF + "bind"):
        name = bind.get("nodeset", "").rsplit("/", 1)[-1]
        attr = {k.split("}")[-1]: v for k, v in bind.attrib.items()}
        out[name] = {
            key: attr.get(key, "false()") not in ("false()", "")
            for key in ("relevant", "constraint", "calculate", "required", "readonly")
        }
        out[name]["type"] = attr.get("type")
    return out


def main():
    result = {pathlib.Path(p).stem: binds(p) for p in sys.argv[1:]}
    json.dump(result, sys.stdout, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()

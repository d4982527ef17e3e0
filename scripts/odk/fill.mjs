// Fill an XForm with ODK's JavaScript form engine (@getodk/xforms-engine, the engine of ODK Web
// Forms) and print every calculated value as JSON: {"path": value}, where path is the field's
// name with 1-based repeat indices (`children[2]/age_group`).
//
//   node scripts/odk/fill.mjs ENGINE_DIR FORM.xml ANSWERS.json
//
// ANSWERS.json is a SafeHome answers file (docs/forms.md, "Answers files"): fields by name,
// each repeat as a list of objects. Answers are given in form order, as a volunteer would.
// Used by cli/tests/odk_engine.rs to compare ODK's calculations with SafeHome's.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [engineDir, formPath, answersPath] = process.argv.slice(2);
const engineDist = join(engineDir, "node_modules/@getodk/xforms-engine/dist");
const engineEntry = join(engineDist, "index.js");
// The engine is built for browsers; its bundled tree-sitter (emscripten) takes the Node path
// when it runs under Node and then expects CommonJS's `__dirname`.
globalThis.__dirname = engineDist;
// And it parses the XForm with the browser's DOM: jsdom provides one.
const { JSDOM } = await import(pathToFileURL(join(engineDir, "node_modules/jsdom/lib/api.js")).href);
const { window } = new JSDOM("");
for (const name of ["DOMParser", "XMLSerializer", "Node", "Element", "Document", "XMLDocument", "NodeFilter", "document"]) {
  globalThis[name] ??= window[name];
}
const { createInstance } = await import(pathToFileURL(engineEntry).href);

const xml = readFileSync(formPath, "utf8");
const answers = JSON.parse(readFileSync(answersPath, "utf8"));
const instance = await createInstance(xml, {});
const root = instance.root;

const nameOf = (node) => String(node.definition.nodeset ?? "").split("/").pop();

function text(value) {
  if (value === null || value === undefined) return "";
  if (Array.isArray(value)) return value.join(" ");
  if (typeof value === "object" && "lat" in value) {
    return [value.lat, value.lon, value.alt ?? 0, value.accuracy ?? 0].join(" ");
  }
  return String(value);
}

function answer(node, value) {
  switch (node.nodeType) {
    case "select":
      if (Array.isArray(value)) node.selectValues(value.map(String));
      else if (node.definition.bodyElement?.type === "select") {
        node.selectValues(String(value).split(" ").filter(Boolean));
      } else node.selectValue(String(value));
      break;
    case "input":
      if (node.valueType === "int" || node.valueType === "decimal") node.setValue(Number(value));
      else node.setValue(text(value));
      break;
    case "trigger":
      node.setValue(Boolean(value));
      break;
    default:
      break;
  }
}

// Walk the children in order, re-reading them after every answer (relevance and repeat counts
// change the tree as it is filled).
function fill(parent, scope) {
  for (let i = 0; i < (parent.currentState.children ?? []).length; i++) {
    const node = parent.currentState.children[i];
    const name = nameOf(node);
    if (node.nodeType === "group") {
      fill(node, scope);
    } else if (node.nodeType.startsWith("repeat-range")) {
      const items = Array.isArray(scope[name]) ? scope[name] : [];
      if (node.nodeType === "repeat-range:uncontrolled") {
        const have = node.currentState.children.length;
        if (items.length > have) node.addInstances(have, items.length - have);
      }
      node.currentState.children.forEach((inst, k) => fill(inst, items[k] ?? {}));
    } else if (name in scope && node.currentState.relevant && !node.currentState.readonly) {
      answer(node, scope[name]);
    }
  }
}
fill(root, answers);

// Every calculated value, relevant or not (non-relevant ones are blank in both engines).
const out = {};
function collect(node, prefix) {
  for (const child of node.currentState.children ?? []) {
    const name = nameOf(child);
    if (child.nodeType === "repeat-range:controlled" || child.nodeType === "repeat-range:uncontrolled") {
      child.currentState.children.forEach((inst, k) => collect(inst, `${prefix}${name}[${k + 1}]/`));
    } else if (child.nodeType === "group" || child.nodeType === "repeat-instance") {
      collect(child, prefix);
    } else if (child.nodeType === "model-value") {
      out[`${prefix}${name}`] = child.currentState.relevant ? text(child.currentState.value) : "";
    }
  }
}
collect(root, "");
process.stdout.write(JSON.stringify(out, null, 1) + "\n");

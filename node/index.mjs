// ESM entry of eve-atoms: the CommonJS module's exports, by name.
import { createRequire } from 'node:module';
const eve = createRequire(import.meta.url)('./index.js');
export default eve;
export const {
  open, join, edn, Edn, keyword, Keyword, Sym, Uuid, symbol, uuid, toEDN, fromEDN, toJSONText, fromJSONText,
  toJS, isView, Domain, Atom, View, EveMap, EveVector, EveSet, EveList, EveError, errors, version,
} = eve;

// Just enough XML reading for Plivo answer documents: elements, attributes, text, entities, CDATA, comments.
// Malformed input throws, as Plivo rejects an unparsable answer.

export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
}

const NAME = /[A-Za-z_:][-A-Za-z0-9_.:]*/y;
const ATTR = /\s*([A-Za-z_:][-A-Za-z0-9_.:]*)\s*=\s*("([^"]*)"|'([^']*)')/y;

export function parseXml(src: string): XmlElement {
  let i = 0;
  const root: XmlElement = { name: '#document', attrs: {}, children: [], text: '' };
  const stack: XmlElement[] = [root];
  while (i < src.length) {
    const lt = src.indexOf('<', i);
    const textEnd = lt === -1 ? src.length : lt;
    if (textEnd > i) appendText(stack, decodeEntities(src.slice(i, textEnd)));
    if (lt === -1) break;
    i = lt;
    if (src.startsWith('<?', i)) {
      i = need(src, '?>', i) + 2;
    } else if (src.startsWith('<!--', i)) {
      i = need(src, '-->', i) + 3;
    } else if (src.startsWith('<![CDATA[', i)) {
      const end = need(src, ']]>', i);
      appendText(stack, src.slice(i + 9, end));
      i = end + 3;
    } else if (src.startsWith('<!', i)) {
      i = need(src, '>', i) + 1;
    } else if (src.startsWith('</', i)) {
      NAME.lastIndex = i + 2;
      const m = NAME.exec(src);
      if (!m) throw new Error(`bad closing tag at ${i}`);
      const top = stack.pop();
      if (!top || top === root || top.name !== m[0]) throw new Error(`mismatched </${m[0]}> at ${i}`);
      const gt = src.indexOf('>', NAME.lastIndex);
      if (gt === -1 || src.slice(NAME.lastIndex, gt).trim() !== '') throw new Error(`bad closing tag at ${i}`);
      i = gt + 1;
    } else {
      NAME.lastIndex = i + 1;
      const m = NAME.exec(src);
      if (!m) throw new Error(`bad tag at ${i}`);
      const el: XmlElement = { name: m[0], attrs: {}, children: [], text: '' };
      let j = NAME.lastIndex;
      for (;;) {
        ATTR.lastIndex = j;
        const a = ATTR.exec(src);
        if (!a) break;
        el.attrs[a[1]!] = decodeEntities(a[3] ?? a[4] ?? '');
        j = ATTR.lastIndex;
      }
      while (j < src.length && /\s/.test(src[j]!)) j++;
      stack[stack.length - 1]!.children.push(el);
      if (src.startsWith('/>', j)) {
        i = j + 2;
      } else if (src[j] === '>') {
        stack.push(el);
        i = j + 1;
      } else {
        throw new Error(`bad attribute syntax in <${el.name}> at ${j}`);
      }
    }
  }
  if (stack.length !== 1) throw new Error(`unclosed <${stack[stack.length - 1]!.name}>`);
  const elements = root.children;
  if (elements.length !== 1) throw new Error('XML must have exactly one root element');
  if (root.text.trim() !== '') throw new Error('text outside the root element');
  return elements[0]!;
}

export function findAll(el: XmlElement, name: string, out: XmlElement[] = []): XmlElement[] {
  for (const c of el.children) {
    if (c.name === name) out.push(c);
    findAll(c, name, out);
  }
  return out;
}

function appendText(stack: XmlElement[], text: string): void {
  stack[stack.length - 1]!.text += text;
}

function need(src: string, token: string, from: number): number {
  const at = src.indexOf(token, from);
  if (at === -1) throw new Error(`unterminated markup at ${from}`);
  return at;
}

function decodeEntities(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|amp|lt|gt|quot|apos|[A-Za-z0-9]*);?/g, (whole, ent: string) => {
    if (!whole.endsWith(';')) throw new Error(`unescaped & in XML near "${whole}"`);
    switch (ent) {
      case 'amp':
        return '&';
      case 'lt':
        return '<';
      case 'gt':
        return '>';
      case 'quot':
        return '"';
      case 'apos':
        return "'";
    }
    if (ent.startsWith('#x')) return String.fromCodePoint(Number.parseInt(ent.slice(2), 16));
    if (ent.startsWith('#')) return String.fromCodePoint(Number.parseInt(ent.slice(1), 10));
    throw new Error(`unknown XML entity &${ent};`);
  });
}

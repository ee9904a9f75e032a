// A deliberately small YAML reader for NetworkAttachmentDefinition manifests in standalone mode (no new
// dependency): block mappings and sequences, plain/quoted scalars, `|`/`>` block scalars, JSON-style flow
// collections, comments and `---` document separators. Anything else is an error naming the line.

export class YamlError extends Error {
  constructor(source: string, line: number, message: string) {
    super(`${source}:${line}: ${message}`);
    this.name = 'YamlError';
  }
}

interface Line { number: number; indent: number; text: string }

function stripComment(text: string): string {
  let quote: string | null = null;
  for (let index = 0; index < text.length; index++) {
    const char = text[index]!;
    if (quote) {
      if (char === quote) quote = null;
    } else if (char === '"' || char === "'") {
      quote = char;
    } else if (char === '#' && (index === 0 || /\s/.test(text[index - 1]!))) {
      return text.slice(0, index).trimEnd();
    }
  }
  return text.trimEnd();
}

function scalar(raw: string, source: string, line: number): unknown {
  const text = raw.trim();
  if (text === '' || text === '~' || text === 'null') return null;
  if (text === 'true' || text === 'false') return text === 'true';
  if (/^-?\d+(\.\d+)?$/.test(text)) return Number(text);
  if (text.startsWith('"')) {
    try { return JSON.parse(text); } catch { throw new YamlError(source, line, `bad double-quoted string ${text}`); }
  }
  if (text.startsWith("'")) {
    if (!text.endsWith("'") || text.length < 2) throw new YamlError(source, line, `unterminated single-quoted string ${text}`);
    return text.slice(1, -1).replace(/''/g, "'");
  }
  if (text.startsWith('{') || text.startsWith('[')) {
    try { return JSON.parse(text); } catch { throw new YamlError(source, line, 'flow collections must be valid JSON in this reader'); }
  }
  return text;
}

class Parser {
  private position = 0;
  constructor(private readonly lines: Line[], private readonly raw: string[], private readonly source: string) {}

  parse(): unknown {
    if (this.lines.length === 0) return null;
    const value = this.block(this.lines[0]!.indent);
    if (this.position < this.lines.length) throw new YamlError(this.source, this.lines[this.position]!.number, 'unexpected indentation');
    return value;
  }

  private block(indent: number): unknown {
    const first = this.lines[this.position]!;
    if (first.text.startsWith('- ') || first.text === '-') return this.sequence(indent);
    return this.mapping(indent);
  }

  private sequence(indent: number): unknown[] {
    const items: unknown[] = [];
    while (this.position < this.lines.length) {
      const line = this.lines[this.position]!;
      if (line.indent < indent) break;
      if (line.indent > indent) throw new YamlError(this.source, line.number, 'unexpected indentation');
      if (!(line.text.startsWith('- ') || line.text === '-')) break;
      const rest = line.text.slice(1).trimStart();
      if (rest === '') {
        this.position++;
        items.push(this.position < this.lines.length && this.lines[this.position]!.indent > indent ? this.block(this.lines[this.position]!.indent) : null);
      } else if (/^[^"'{[][^:]*:(\s|$)/.test(rest)) {
        // "- key: value" starts a mapping whose indentation is that of "key".
        const childIndent = indent + (line.text.length - rest.length);
        this.lines[this.position] = { number: line.number, indent: childIndent, text: rest };
        items.push(this.mapping(childIndent));
      } else {
        this.position++;
        items.push(scalar(rest, this.source, line.number));
      }
    }
    return items;
  }

  private mapping(indent: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    while (this.position < this.lines.length) {
      const line = this.lines[this.position]!;
      if (line.indent < indent) break;
      if (line.indent > indent) throw new YamlError(this.source, line.number, 'unexpected indentation');
      const match = /^("(?:[^"\\]|\\.)*"|'[^']*'|[^:]+?):(?:\s+(.*))?$/.exec(line.text);
      if (!match) throw new YamlError(this.source, line.number, `expected "key: value", got "${line.text}"`);
      const key = String(scalar(match[1]!, this.source, line.number));
      const rest = (match[2] ?? '').trim();
      this.position++;
      if (/^[|>][+-]?$/.test(rest)) out[key] = this.blockScalar(line, indent, rest);
      else if (rest !== '') out[key] = scalar(rest, this.source, line.number);
      else if (this.position < this.lines.length && (this.lines[this.position]!.indent > indent || (this.lines[this.position]!.indent === indent && this.lines[this.position]!.text.startsWith('-')))) {
        out[key] = this.block(this.lines[this.position]!.indent);
      } else out[key] = null;
    }
    return out;
  }

  private blockScalar(header: Line, indent: number, style: string): string {
    // Block scalars keep their raw lines (comments and blank lines included), so read from the raw text.
    const collected: string[] = [];
    let rawIndex = header.number; // raw lines are 0-based; header.number is 1-based, so this is the next line
    let blockIndent = -1;
    for (; rawIndex < this.raw.length; rawIndex++) {
      const text = this.raw[rawIndex]!;
      if (text.trim() === '') { collected.push(''); continue; }
      const lineIndent = text.length - text.trimStart().length;
      if (blockIndent < 0) {
        if (lineIndent <= indent) break;
        blockIndent = lineIndent;
      }
      if (lineIndent < blockIndent) break;
      collected.push(text.slice(blockIndent));
    }
    while (this.position < this.lines.length && this.lines[this.position]!.number <= rawIndex) this.position++;
    while (collected.length > 0 && collected[collected.length - 1] === '') collected.pop();
    const body = style.startsWith('>') ? collected.join(' ').replace(/ {2,}/g, ' ') : collected.join('\n');
    return style.endsWith('-') ? body : `${body}\n`;
  }
}

/** Parses every document of a YAML stream. */
export function parseYamlDocuments(text: string, source: string): unknown[] {
  const rawLines = text.replace(/\r\n/g, '\n').split('\n');
  const documents: unknown[] = [];
  let start = 0;
  const flush = (end: number) => {
    const lines: Line[] = [];
    for (let index = start; index < end; index++) {
      const raw = rawLines[index]!;
      if (raw.includes('\t') && /^\s*\t/.test(raw)) throw new YamlError(source, index + 1, 'tabs are not allowed for indentation');
      const stripped = stripComment(raw);
      if (stripped.trim() === '') continue;
      lines.push({ number: index + 1, indent: stripped.length - stripped.trimStart().length, text: stripped.trim() });
    }
    if (lines.length > 0) documents.push(new Parser(lines, rawLines, source).parse());
  };
  for (let index = 0; index < rawLines.length; index++) {
    if (/^---\s*(#.*)?$/.test(rawLines[index]!) || /^\.\.\.\s*$/.test(rawLines[index]!)) {
      flush(index);
      start = index + 1;
    }
  }
  flush(rawLines.length);
  return documents;
}

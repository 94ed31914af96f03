import { describe, expect, it } from 'vitest';
import { findPans } from '../cards/pan.ts';
import { cleanInbound, cleanInboundText, readInboundJson } from './inbound.ts';

const value = (text: string): unknown => {
  const read = readInboundJson(text);
  if (!read.ok) throw new Error(`not JSON: ${text}`);
  return read.value;
};

describe('inbound SaaS text', () => {
  it('masks card numbers, plain and grouped', () => {
    expect(cleanInboundText('card 4111111111111111 rejected')).toBe('card 411111******1111 rejected');
    expect(cleanInboundText('PAN 4111 1111 1111 1111')).toBe('PAN 411111******1111');
    expect(cleanInboundText('trace 1795566515238-1, id 86e9d8c0')).toBe('trace 1795566515238-1, id 86e9d8c0');
  });

  it('makes text storable: NUL and lone surrogates become U+FFFD, pairs stay', () => {
    expect(cleanInboundText('a\u0000b')).toBe('a\uFFFDb');
    expect(cleanInboundText('x\uD800y\uDC00z')).toBe('x\uFFFDy\uFFFDz');
    expect(cleanInboundText('emoji 😀 stays')).toBe('emoji 😀 stays');
    expect(cleanInboundText('x\uD800y').isWellFormed()).toBe(true);
  });

  it('cleans every string, key and number of a JSON text, at any depth', () => {
    const raw =
      '{"error":{"message":"card 4111111111111111 rejected","details":["PAN 4111 1111 1111 1111",' +
      '{"pan":4111111111111111,"long":4111111111111111110,"n":42}],' +
      '"k\\u0000\\ud800":"v\\u0000","4111111111111111":true}}';
    const cleaned = value(raw);
    expect(cleaned).toEqual({
      error: {
        message: 'card 411111******1111 rejected',
        details: ['PAN 411111******1111', { pan: '411111******1111', long: '411111*********1110', n: 42 }],
        'k\uFFFD\uFFFD': 'v\uFFFD',
        '411111******1111': true,
      },
    });
    expect(findPans(JSON.stringify(cleaned))).toEqual([]);
    expect(JSON.stringify(cleaned)).not.toContain('\\u0000');
  });

  it('finds a card number spelled with escapes, grouped across values, or as a bare number', () => {
    // \u0034 is "4": the raw text shows no card number, the parsed value does.
    expect(value('{"m":"\\u0034111111111111111"}')).toEqual({ m: '411111******1111' });
    expect(value('{"m":"4111\\u00201111 1111 1111"}')).toEqual({ m: '411111******1111' });
    expect(value('[4111111111111111]')).toEqual(['411111******1111']);
    expect(value('{"m":"card\\t4111111111111111"}')).toEqual({ m: 'card\t411111******1111' });
  });

  it('parses a text with nothing to clean as JSON.parse does', () => {
    const raw =
      '{"type":"request.completed","tenant":"ENBDTABBY","data":{"requestTraceId":"3ba7e2d7-7010-4336",' +
      '"status":"SUCCESS","n":1795566515238,"x":[1.5,null,true],"s":"a\\"b\\\\c\\n"}}';
    expect(value(raw)).toEqual(JSON.parse(raw));
  });

  it('keeps a "__proto__" key as data', () => {
    const cleaned = value('{"__proto__":{"polluted":true},"a\\u0000":1}') as Record<string, unknown>;
    expect(Object.getPrototypeOf(cleaned)).toBe(Object.prototype);
    expect(Object.hasOwn(cleaned, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('is idempotent, and says when the text is not JSON', () => {
    const once = value('{"m":"card 4111111111111111 \\u0000"}');
    expect(cleanInbound(once)).toEqual(once);
    expect(readInboundJson('{"m":')).toEqual({ ok: false, error: 'NOT_JSON' });
    expect(readInboundJson('null')).toEqual({ ok: true, value: null });
  });
});

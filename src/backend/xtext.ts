// xtext (RFC 3461 §4): how XCLIENT attribute values travel. Every byte outside "!".."~",
// and "+" and "=" themselves, becomes "+XX".
export function xtext(value: string): string {
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    out += byte >= 0x21 && byte <= 0x7e && byte !== 0x2b && byte !== 0x3d ? String.fromCharCode(byte) : `+${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * Text a peer controls (file names, ERROR-frame messages, close reasons, HTTP error
 * messages) is shown to the user only through {@link peerText}: a hostile provider must not
 * be able to drive the terminal (escape sequences, carriage returns that overwrite the
 * line) or reorder what is displayed (bidirectional overrides), nor flood it.
 */

/** Longest peer text shown, in UTF-16 code units (longer text is cut and ends with `…`). */
export const MAX_PEER_TEXT = 200;

// C0 controls, DEL, C1 controls; bidi marks, embeddings, overrides and isolates (incl. the
// Arabic letter mark); line/paragraph separators; zero-width and BOM characters.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * Peer-supplied text made safe to print: every control, bidi-override, invisible or
 * line-breaking character becomes `?`, lone surrogates become U+FFFD, and the result is at
 * most `max` code units.
 * @param text - anything a peer sent (non-strings are shown as an empty string)
 * @param max - length cap (default {@link MAX_PEER_TEXT})
 */
export function peerText(text: unknown, max: number = MAX_PEER_TEXT): string {
  if (typeof text !== 'string') return '';
  const head = text.length > max * 2 ? text.slice(0, max * 2) : text;
  const clean = head.replace(LONE_SURROGATE, '\ufffd').replace(UNSAFE, '?');
  if (clean.length <= max) return clean;
  // cut on a code point boundary
  let cut = clean.slice(0, max - 1);
  if (/[\ud800-\udbff]$/.test(cut)) cut = cut.slice(0, -1);
  return `${cut}…`;
}

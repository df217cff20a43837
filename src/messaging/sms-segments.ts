/**
 * How many SMS segments a text costs (3GPP TS 23.038 / 23.040).
 *
 * A text made only of the GSM 7-bit default alphabet (plus its extension
 * table, whose characters take an escape and so two septets) travels as
 * GSM-7: 160 septets in one segment, 153 per segment once concatenated (the
 * user data header takes 7). Anything else goes as UCS-2: 70 UTF-16 code
 * units alone, 67 per segment concatenated; a character outside the BMP
 * (most emoji) is two code units and is never split across segments.
 */
export type SmsEncoding = 'gsm7' | 'ucs2';

export interface SegmentCount {
  encoding: SmsEncoding;
  segments: number;
  /** Septets (GSM-7) or UTF-16 code units (UCS-2). */
  units: number;
}

const GSM7_BASIC = '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
const GSM7_EXTENSION = '\f^{}\\[~]|€';
const BASIC = new Set(GSM7_BASIC);
const EXTENSION = new Set(GSM7_EXTENSION);

export function countSegments(text: string): SegmentCount {
  let septets = 0;
  let gsm = true;
  for (const ch of text) {
    if (BASIC.has(ch)) septets += 1;
    else if (EXTENSION.has(ch)) septets += 2;
    else {
      gsm = false;
      break;
    }
  }
  if (gsm) {
    if (septets <= 160) return { encoding: 'gsm7', segments: 1, units: septets };
    // An escape and its character stay in one segment: count segment by segment.
    let segments = 1;
    let used = 0;
    for (const ch of text) {
      const w = EXTENSION.has(ch) ? 2 : 1;
      if (used + w > 153) {
        segments += 1;
        used = 0;
      }
      used += w;
    }
    return { encoding: 'gsm7', segments, units: septets };
  }
  const units = text.length;
  if (units <= 70) return { encoding: 'ucs2', segments: 1, units };
  let segments = 1;
  let used = 0;
  for (const ch of text) {
    const w = ch.length; // 2 for a surrogate pair
    if (used + w > 67) {
      segments += 1;
      used = 0;
    }
    used += w;
  }
  return { encoding: 'ucs2', segments, units };
}

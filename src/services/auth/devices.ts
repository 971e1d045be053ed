/**
 * A short, human label for a session's device from its User-Agent (`Firefox on Windows`), for the session list and
 * the security emails. Deliberately small: a label of the common browsers and systems, not a full parser (a
 * dependency such as bowser would add tens of kilobytes to the Worker for what these few patterns give). The raw
 * agent is always kept beside the label. Order matters: Edge and Opera also say "Chrome", Chrome also says "Safari".
 */
const BROWSERS: readonly (readonly [RegExp, string])[] = [
  [/\bEdg(?:e|A|iOS)?\//, 'Edge'],
  [/\bOPR\/|\bOpera\b/, 'Opera'],
  [/\bSamsungBrowser\//, 'Samsung Internet'],
  [/\bFirefox\/|\bFxiOS\//, 'Firefox'],
  [/\bChrome\/|\bCriOS\/|\bChromium\//, 'Chrome'],
  [/\bSafari\//, 'Safari'],
  [/^curl\//, 'curl'],
];

const SYSTEMS: readonly (readonly [RegExp, string])[] = [
  [/\biPhone\b/, 'iPhone'],
  [/\biPad\b/, 'iPad'],
  [/\bAndroid\b/, 'Android'],
  [/\bCrOS\b/, 'ChromeOS'],
  [/\bWindows\b/, 'Windows'],
  [/\bMacintosh\b|\bMac OS X\b/, 'macOS'],
  [/\bLinux\b/, 'Linux'],
];

export const UNKNOWN_DEVICE = 'Unknown device';

function first(table: readonly (readonly [RegExp, string])[], userAgent: string): string | undefined {
  return table.find(([pattern]) => pattern.test(userAgent))?.[1];
}

/** `Browser on System`, either alone when only one is known, or UNKNOWN_DEVICE. */
export function deviceLabel(userAgent: string | null): string {
  if (userAgent === null) return UNKNOWN_DEVICE;
  const browser = first(BROWSERS, userAgent);
  const system = first(SYSTEMS, userAgent);
  if (browser !== undefined && system !== undefined) return `${browser} on ${system}`;
  return browser ?? system ?? UNKNOWN_DEVICE;
}

/**
 * Whether two user agents are the same device for the "new sign-in" email: the same label (a browser update changes
 * the version in the agent, not the device), or, when the label says nothing, the same agent exactly.
 */
export function sameDevice(a: string | null, b: string | null): boolean {
  const label = deviceLabel(a);
  return label === UNKNOWN_DEVICE ? a === b : label === deviceLabel(b);
}

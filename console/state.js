// The view's state, mirrored in the URL (#from=&to=&channels=&sel=&focus=) so a view can be pasted.
export const state = {
  from: NaN, to: NaN,           // visible interval, ms UTC
  channels: new Set(),          // selected channel names (empty: none selected)
  sel: null,                    // selected interval [fromMs, toMs] or null
  focus: 0,                     // focused row (keyboard)
};

export function readUrl() {
  const p = new URLSearchParams(location.hash.slice(1));
  const num = (k) => (p.has(k) ? Number(p.get(k)) : NaN);
  state.from = num('from'); state.to = num('to');
  state.channels = new Set((p.get('channels') || '').split(',').filter(Boolean));
  const sel = (p.get('sel') || '').split('_').map(Number);
  state.sel = sel.length === 2 && sel.every(Number.isFinite) ? sel : null;
  state.focus = Number.isFinite(num('focus')) ? num('focus') : 0;
}

export function writeUrl() {
  const p = new URLSearchParams();
  if (Number.isFinite(state.from)) { p.set('from', String(Math.round(state.from))); p.set('to', String(Math.round(state.to))); }
  if (state.channels.size) p.set('channels', [...state.channels].join(','));
  if (state.sel) p.set('sel', state.sel.map((v) => Math.round(v)).join('_'));
  if (state.focus) p.set('focus', String(state.focus));
  history.replaceState(null, '', `#${p.toString()}`);
}

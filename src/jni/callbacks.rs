//! Native methods Java calls to complete a bridge call (`NativeCore.complete*`, `fail`) and to
//! read stored entries inside a position search (`entryField`). Each body copies what it needs out
//! of the Java arguments and never panics across the boundary.

use std::panic::{catch_unwind, AssertUnwindSafe};

use jni::objects::{JByteArray, JClass, JIntArray, JLongArray, JObjectArray, JString};
use jni::sys::{jboolean, jint, jlong};
use jni::JNIEnv;

use super::bridge::complete;
use super::entry_parts;
use crate::host::pulsar::calls::{Failure, Field, ListedTopic, RawEntry, Reply};

/// Runs `f`, turning a JNI error or a panic into a failed reply for `call`.
fn guarded(call: jlong, f: impl FnOnce() -> jni::errors::Result<Reply>) {
    let reply = match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(reply)) => reply,
        Ok(Err(e)) => Reply::Failed(Failure::Storage, format!("bad reply from the broker: {e}")),
        Err(_) => Reply::Failed(Failure::Storage, "the kop core panicked on a broker reply".into()),
    };
    complete(call, reply);
}

fn bytes_or_none(env: &mut JNIEnv<'_>, array: &JByteArray<'_>) -> jni::errors::Result<Option<Vec<u8>>> {
    if array.is_null() {
        return Ok(None);
    }
    env.convert_byte_array(array).map(Some)
}

/// `static native void completeDone(long call)`
#[no_mangle]
pub extern "system" fn Java_io_kop_pulsar_NativeCore_completeDone(_env: JNIEnv<'_>, _class: JClass<'_>, call: jlong) {
    guarded(call, || Ok(Reply::Done));
}

/// `static native void completeTopics(long call, String[] names, int[] partitions, String[] configs)`
#[no_mangle]
pub extern "system" fn Java_io_kop_pulsar_NativeCore_completeTopics<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    call: jlong,
    names: JObjectArray<'l>,
    partitions: JIntArray<'l>,
    configs: JObjectArray<'l>,
) {
    guarded(call, || {
        let n = env.get_array_length(&names)?;
        let mut counts = vec![0; n as usize];
        env.get_int_array_region(&partitions, 0, &mut counts)?;
        let mut topics = Vec::with_capacity(n as usize);
        for (i, count) in counts.into_iter().enumerate() {
            let name = JString::from(env.get_object_array_element(&names, i as jint)?);
            let name: String = env.get_string(&name)?.into();
            let lines = JString::from(env.get_object_array_element(&configs, i as jint)?);
            let lines: String = env.get_string(&lines)?.into();
            let configs =
                lines.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect();
            topics.push(ListedTopic { name, partitions: count, configs });
        }
        Ok(Reply::Topics(topics))
    });
}

/// `static native void completeOpen(long call, long lastIndex, byte[] firstHead, byte[] lastHead,
/// byte[] snapshot)`
#[no_mangle]
pub extern "system" fn Java_io_kop_pulsar_NativeCore_completeOpen<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    call: jlong,
    last_index: jlong,
    first: JByteArray<'l>,
    last: JByteArray<'l>,
    snapshot: JByteArray<'l>,
) {
    guarded(call, || {
        Ok(Reply::Opened {
            last_index,
            first: bytes_or_none(&mut env, &first)?,
            last: bytes_or_none(&mut env, &last)?,
            snapshot: bytes_or_none(&mut env, &snapshot)?,
        })
    });
}

/// `static native void completeAppend(long call, long ledgerId, long entryId, byte[] head)`
#[no_mangle]
pub extern "system" fn Java_io_kop_pulsar_NativeCore_completeAppend<'l>(
    env: JNIEnv<'l>,
    _class: JClass<'l>,
    call: jlong,
    ledger_id: jlong,
    entry_id: jlong,
    head: JByteArray<'l>,
) {
    guarded(call, || {
        let head = env.convert_byte_array(&head)?;
        Ok(Reply::Appended { ledger_id: ledger_id as u64, entry_id: entry_id as u64, head })
    });
}

/// `static native void completeRead(long call, long[] ledgerIds, long[] entryIds, int[] partCounts,
/// Object[] parts, int[] layout, long nextLedgerId, long nextEntryId)`: entry `i` is the next
/// `partCounts[i]` parts; part `j` is `parts[j]` with kind, offset and length at `layout[3j..]`.
/// A negative next ledger id means unknown.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "system" fn Java_io_kop_pulsar_NativeCore_completeRead<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    call: jlong,
    ledger_ids: JLongArray<'l>,
    entry_ids: JLongArray<'l>,
    part_counts: JIntArray<'l>,
    parts: JObjectArray<'l>,
    layout: JIntArray<'l>,
    next_ledger_id: jlong,
    next_entry_id: jlong,
) {
    guarded(call, || {
        let n = env.get_array_length(&part_counts)? as usize;
        let (mut ledgers, mut entries, mut counts) = (vec![0i64; n], vec![0i64; n], vec![0i32; n]);
        env.get_long_array_region(&ledger_ids, 0, &mut ledgers)?;
        env.get_long_array_region(&entry_ids, 0, &mut entries)?;
        env.get_int_array_region(&part_counts, 0, &mut counts)?;
        let mut shape = vec![0i32; env.get_array_length(&layout)? as usize];
        env.get_int_array_region(&layout, 0, &mut shape)?;
        let all = match entry_parts::gather(&mut env, &parts, &shape) {
            Ok(all) => all,
            Err(entry_parts::GatherError::Jni(e)) => return Err(e),
            Err(e) => return Ok(Reply::Failed(Failure::Storage, format!("bad entries from the broker: {e}"))),
        };
        let mut out = Vec::with_capacity(n);
        let (mut part, mut at) = (0usize, 0usize);
        for i in 0..n {
            let count = usize::try_from(counts[i]).unwrap_or(0);
            let len: usize = all.lengths.get(part..part + count).map_or(0, |l| l.iter().sum());
            part += count;
            let end = (at + len).min(all.data.len());
            out.push(RawEntry {
                ledger_id: ledgers[i] as u64,
                entry_id: entries[i] as u64,
                data: all.data.slice(at..end),
            });
            at = end;
        }
        let next = (next_ledger_id >= 0 && next_entry_id >= 0).then_some((next_ledger_id as u64, next_entry_id as u64));
        Ok(Reply::Read(out, next))
    });
}

/// `static native void completePosition(long call, long ledgerId, long entryId)`
#[no_mangle]
pub extern "system" fn Java_io_kop_pulsar_NativeCore_completePosition(
    _env: JNIEnv<'_>,
    _class: JClass<'_>,
    call: jlong,
    ledger_id: jlong,
    entry_id: jlong,
) {
    guarded(call, || Ok(Reply::Position(ledger_id as u64, entry_id as u64)));
}

/// `static native void completeOwner(long call, boolean local, String url)`
#[no_mangle]
pub extern "system" fn Java_io_kop_pulsar_NativeCore_completeOwner<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    call: jlong,
    local: jboolean,
    url: JString<'l>,
) {
    guarded(call, || {
        let url = if url.is_null() { String::new() } else { env.get_string(&url)?.into() };
        Ok(Reply::Owner { local: local != 0, url })
    });
}

/// `static native void completePrincipal(long call, String role)`
#[no_mangle]
pub extern "system" fn Java_io_kop_pulsar_NativeCore_completePrincipal<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    call: jlong,
    role: JString<'l>,
) {
    guarded(call, || {
        let role = if role.is_null() { String::new() } else { env.get_string(&role)?.into() };
        Ok(Reply::Principal(role))
    });
}

/// `static native void fail(long call, int kind, String message)`
#[no_mangle]
pub extern "system" fn Java_io_kop_pulsar_NativeCore_fail<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    call: jlong,
    kind: jint,
    message: JString<'l>,
) {
    guarded(call, || {
        let message = if message.is_null() { String::new() } else { env.get_string(&message)?.into() };
        // A kind this core does not know means the shim and the core do not match; the start
        // check makes that rare, and a storage error is the failure that promises least.
        let failure = Failure::from_code(kind).unwrap_or(Failure::Storage);
        Ok(Reply::Failed(failure, message))
    });
}

/// `static native long entryField(byte[] head, int field)`: -1 when `head` is not a kop entry.
#[no_mangle]
pub extern "system" fn Java_io_kop_pulsar_NativeCore_entryField<'l>(
    env: JNIEnv<'l>,
    _class: JClass<'l>,
    head: JByteArray<'l>,
    which: jint,
) -> jlong {
    let read = catch_unwind(AssertUnwindSafe(|| {
        let head = env.convert_byte_array(&head).ok()?;
        Field::from_code(which)?.of(&head)
    }));
    read.ok().flatten().unwrap_or(-1)
}

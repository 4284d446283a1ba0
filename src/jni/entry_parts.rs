//! Gathers the memory of read entries out of the JVM in one copy: direct parts (the broker's pooled
//! buffers, or the pieces of a composite entry) are read at their native address, heap parts
//! straight from their arrays. Nothing is staged on the Java heap first.

use bytes::{Bytes, BytesMut};
use jni::objects::{JByteArray, JByteBuffer, JObjectArray};
use jni::JNIEnv;

/// Part kinds, as `NativeCore.DIRECT_PART` and `NativeCore.ARRAY_PART`.
const DIRECT_PART: i32 = 0;
const ARRAY_PART: i32 = 1;

/// The parts of a read, copied into one buffer, and each part's length.
pub struct Gathered {
    pub data: Bytes,
    pub lengths: Vec<usize>,
}

#[derive(Debug, thiserror::Error)]
pub enum GatherError {
    #[error(transparent)]
    Jni(#[from] jni::errors::Error),
    #[error("part {part}: {reason}")]
    Layout { part: usize, reason: &'static str },
}

/// Copies `parts`, described by `layout` (kind, offset, length per part), into one buffer.
pub fn gather(env: &mut JNIEnv<'_>, parts: &JObjectArray<'_>, layout: &[i32]) -> Result<Gathered, GatherError> {
    let count = env.get_array_length(parts)? as usize;
    if layout.len() != count * 3 {
        return Err(GatherError::Layout { part: 0, reason: "layout does not describe every part" });
    }
    let mut lengths = Vec::with_capacity(count);
    for (part, shape) in layout.chunks_exact(3).enumerate() {
        let length = usize::try_from(shape[2]).map_err(|_| GatherError::Layout { part, reason: "negative length" })?;
        lengths.push(length);
    }
    let mut data = BytesMut::with_capacity(lengths.iter().sum());
    for (part, shape) in layout.chunks_exact(3).enumerate() {
        let (kind, length) = (shape[0], lengths[part]);
        let offset = usize::try_from(shape[1]).map_err(|_| GatherError::Layout { part, reason: "negative offset" })?;
        let object = env.get_object_array_element(parts, part as i32)?;
        if object.is_null() {
            return Err(GatherError::Layout { part, reason: "null part" });
        }
        let copied = match kind {
            DIRECT_PART => copy_direct(env, JByteBuffer::from(object), offset, length, &mut data),
            ARRAY_PART => copy_array(env, JByteArray::from(object), offset, length, &mut data),
            _ => Err(GatherError::Layout { part, reason: "unknown part kind" }),
        };
        copied.map_err(|e| match e {
            GatherError::Layout { reason, .. } => GatherError::Layout { part, reason },
            other => other,
        })?;
    }
    Ok(Gathered { data: data.freeze(), lengths })
}

fn copy_direct(
    env: &mut JNIEnv<'_>,
    buffer: JByteBuffer<'_>,
    offset: usize,
    length: usize,
    into: &mut BytesMut,
) -> Result<(), GatherError> {
    let address = env.get_direct_buffer_address(&buffer)?;
    let capacity = env.get_direct_buffer_capacity(&buffer)?;
    let in_bounds = offset.checked_add(length).is_some_and(|end| end <= capacity);
    let result = if in_bounds && !address.is_null() {
        // SAFETY: the range lies inside the buffer's capacity, and the Java caller holds the entry
        // this memory belongs to (unreleased) until this native call returns.
        let bytes = unsafe { std::slice::from_raw_parts(address.add(offset).cast_const(), length) };
        into.extend_from_slice(bytes);
        Ok(())
    } else {
        Err(GatherError::Layout { part: 0, reason: "direct part out of bounds" })
    };
    env.delete_local_ref(buffer)?;
    result
}

fn copy_array(
    env: &mut JNIEnv<'_>,
    array: JByteArray<'_>,
    offset: usize,
    length: usize,
    into: &mut BytesMut,
) -> Result<(), GatherError> {
    let size = env.get_array_length(&array)? as usize;
    // Checked here so the JVM never has an out-of-bounds exception pending on our return.
    let in_bounds = offset.checked_add(length).is_some_and(|end| end <= size);
    let result = match (in_bounds, i32::try_from(offset)) {
        (true, Ok(start)) => {
            let at = into.len();
            into.resize(at + length, 0);
            // SAFETY: i8 and u8 have the same size and alignment; the slice is the part just added.
            let target = unsafe { std::slice::from_raw_parts_mut(into[at..].as_mut_ptr().cast::<i8>(), length) };
            env.get_byte_array_region(&array, start, target).map_err(GatherError::from)
        }
        _ => Err(GatherError::Layout { part: 0, reason: "array part out of bounds" }),
    };
    env.delete_local_ref(array)?;
    result
}

//! Parquet for the `file` connector: schema from file metadata, and the
//! reader.
//!
//! Each row group is a part: row groups are numbered across the files in
//! order, and a worker reads those it owns with the synchronous
//! `ParquetRecordBatchReader`, decoding only the projected columns. Columns
//! are matched by name (exactly, else ignoring case); a file column whose
//! type differs from the table's is cast when the types are compatible
//! (integers to wider integers, `Utf8View` to `Utf8`, timestamp units, ...).
//! A scan that needs no column (`count(*)`) reads only row counts from the
//! metadata.

use std::collections::VecDeque;
use std::fmt;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, RecordBatchOptions};
use arrow::compute::{CastOptions, can_cast_types, cast_with_options};
use arrow::datatypes::{DataType, Schema, SchemaRef};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReader,
    ParquetRecordBatchReaderBuilder,
};

use crate::error::{Error, Result};
use crate::file::source::FormatReader;
use tidewater_runtime::pgtypes::type_name;

use crate::schema::strip_metadata;

/// Reads the metadata of a Parquet file.
///
/// String and binary columns that the file's embedded Arrow schema declares
/// as views (`Utf8View`, `BinaryView`) are read as `Utf8` and `Binary`: a
/// view batch shares its data buffers with every batch sliced or taken from
/// it, so operators that keep rows (join build sides, sorts, groups) would
/// hold, ship between processes and account for whole pages per row.
pub(crate) fn load_metadata(path: &Path) -> Result<ArrowReaderMetadata> {
    let shown = || path.display().to_string();
    let file = File::open(path).map_err(|e| Error::io(path.display(), e))?;
    let meta = ArrowReaderMetadata::load(&file, ArrowReaderOptions::new()).map_err(|source| {
        Error::Parquet {
            path: shown(),
            source,
        }
    })?;
    let schema = meta.schema();
    if !schema.fields().iter().any(|f| is_view(f.data_type())) {
        return Ok(meta);
    }
    let fields: Vec<_> = schema
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            DataType::Utf8View => Arc::new(f.as_ref().clone().with_data_type(DataType::Utf8)),
            DataType::BinaryView => Arc::new(f.as_ref().clone().with_data_type(DataType::Binary)),
            _ => Arc::clone(f),
        })
        .collect();
    let hint = Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()));
    ArrowReaderMetadata::try_new(
        Arc::clone(meta.metadata()),
        ArrowReaderOptions::new().with_schema(hint),
    )
    .map_err(|source| Error::Parquet {
        path: shown(),
        source,
    })
}

fn is_view(t: &DataType) -> bool {
    matches!(t, DataType::Utf8View | DataType::BinaryView)
}

/// The schema of Parquet `files`, as Arrow reads the first one; every other
/// file must have the same columns and types.
pub(crate) fn infer_schema(files: &[PathBuf]) -> Result<SchemaRef> {
    let mut schema: Option<(SchemaRef, String)> = None;
    for path in files {
        let file_schema = strip_metadata(load_metadata(path)?.schema());
        let shown = path.display().to_string();
        match &schema {
            None => schema = Some((file_schema, shown)),
            Some((first, first_path)) => {
                check_same_schema(first, first_path, &file_schema, &shown)?;
            }
        }
    }
    match schema {
        Some((s, _)) => Ok(s),
        None => Err(Error::NoFiles {
            path: String::new(),
            hint: String::new(),
        }),
    }
}

fn check_same_schema(first: &Schema, first_path: &str, other: &Schema, path: &str) -> Result<()> {
    for field in first.fields() {
        match other.field_with_name(field.name()) {
            Err(_) => {
                return Err(Error::bad_file(
                    path,
                    format!("has no column {}, which {first_path} has", field.name()),
                ));
            }
            Ok(f) if f.data_type() != field.data_type() => {
                return Err(Error::bad_file(
                    path,
                    format!(
                        "column {} has type {}, but it has type {} in {first_path}",
                        field.name(),
                        f.data_type(),
                        field.data_type()
                    ),
                ));
            }
            Ok(_) => {}
        }
    }
    if let Some(extra) = other
        .fields()
        .iter()
        .find(|f| first.field_with_name(f.name()).is_err())
    {
        return Err(Error::bad_file(
            path,
            format!(
                "has a column {}, which {first_path} does not have",
                extra.name()
            ),
        ));
    }
    Ok(())
}

/// Checks that every file has the declared columns with readable types.
pub(crate) fn check_declared(files: &[PathBuf], declared: &Schema) -> Result<()> {
    for path in files {
        let meta = load_metadata(path)?;
        let all: Vec<usize> = (0..declared.fields().len()).collect();
        column_roots(meta.schema(), declared, &all, &path.display().to_string())?;
    }
    Ok(())
}

/// For each of `columns` (indices into `table`), the index of the file
/// column it reads.
fn column_roots(
    file_schema: &Schema,
    table: &Schema,
    columns: &[usize],
    path: &str,
) -> Result<Vec<usize>> {
    columns
        .iter()
        .map(|&c| {
            let field = table.field(c);
            let found = file_schema.index_of(field.name()).ok().or_else(|| {
                let mut matches = file_schema
                    .fields()
                    .iter()
                    .enumerate()
                    .filter(|(_, f)| f.name().eq_ignore_ascii_case(field.name()));
                match (matches.next(), matches.next()) {
                    (Some((i, _)), None) => Some(i),
                    _ => None,
                }
            });
            let Some(root) = found else {
                let names: Vec<_> = file_schema
                    .fields()
                    .iter()
                    .map(|f| f.name().as_str())
                    .collect();
                return Err(Error::bad_file(
                    path,
                    format!(
                        "has no column {} (its columns: {})",
                        field.name(),
                        names.join(", ")
                    ),
                ));
            };
            let file_type = file_schema.field(root).data_type();
            if !can_read_as(file_type, field.data_type()) {
                return Err(Error::bad_file(
                    path,
                    format!(
                        "column {} has type {} ({file_type}), which cannot be read as {}",
                        field.name(),
                        type_name(file_type),
                        type_name(field.data_type())
                    ),
                ));
            }
            Ok(root)
        })
        .collect()
}

/// Whether a Parquet column of type `from` can be read into a column of
/// type `to` (by a cast that keeps its meaning).
fn can_read_as(from: &DataType, to: &DataType) -> bool {
    use DataType::*;
    fn family(t: &DataType) -> u8 {
        match t {
            Boolean => 1,
            Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 | UInt64 => 2,
            Float16 | Float32 | Float64 => 3,
            Decimal32(..) | Decimal64(..) | Decimal128(..) | Decimal256(..) => 4,
            Utf8 | LargeUtf8 | Utf8View => 5,
            Binary | LargeBinary | BinaryView | FixedSizeBinary(_) => 6,
            Date32 | Date64 | Timestamp(..) => 7,
            Time32(_) | Time64(_) => 8,
            Dictionary(_, v) => family(v),
            _ => 0,
        }
    }
    if from == to {
        return true;
    }
    let (f, t) = (family(from), family(to));
    let compatible = (f != 0 && f == t)
        // Numbers widen to floats and decimals.
        || (matches!(f, 2 | 4) && t == 3)
        || (matches!(f, 2 | 3) && t == 4);
    compatible && can_cast_types(from, to)
}

/// One file's share of a worker's row groups.
struct FilePart {
    path: PathBuf,
    meta: ArrowReaderMetadata,
    row_groups: Vec<usize>,
}

impl fmt::Debug for FilePart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FilePart")
            .field("path", &self.path)
            .field("row_groups", &self.row_groups)
            .finish_non_exhaustive()
    }
}

/// Reads one worker's row groups.
pub(crate) struct ParquetReader {
    table_schema: SchemaRef,
    output_schema: SchemaRef,
    /// Table column indices of the output columns.
    projection: Vec<usize>,
    batch_size: usize,
    /// Rows still wanted (the scan's limit).
    remaining: Option<usize>,
    parts: VecDeque<FilePart>,
    current: Option<OpenFile>,
    /// With no output column: rows left to emit as column-less batches.
    count_only_rows: u64,
}

struct OpenFile {
    shown: String,
    reader: ParquetRecordBatchReader,
    /// For each output column, its index in the decoded batches.
    slots: Vec<usize>,
}

impl fmt::Debug for ParquetReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParquetReader")
            .field("output_schema", &self.output_schema)
            .field("parts", &self.parts)
            .field("current", &self.current.as_ref().map(|c| &c.shown))
            .finish_non_exhaustive()
    }
}

impl ParquetReader {
    /// A reader of the row groups `owns(i)` accepts (`i` numbers the row
    /// groups of `files` in order), producing `projection` (table column
    /// indices) of `table_schema` as `output_schema`.
    pub(crate) fn try_new(
        table_schema: SchemaRef,
        output_schema: SchemaRef,
        projection: Vec<usize>,
        files: Vec<PathBuf>,
        owns: impl Fn(usize) -> bool,
        batch_size: usize,
        limit: Option<usize>,
    ) -> Result<Self> {
        let mut parts = VecDeque::new();
        let mut next_part = 0;
        let mut count_only_rows = 0u64;
        for path in files {
            let meta = load_metadata(&path)?;
            let groups = meta.metadata().num_row_groups();
            let row_groups: Vec<usize> = (0..groups).filter(|g| owns(next_part + g)).collect();
            next_part += groups;
            if row_groups.is_empty() {
                continue;
            }
            if projection.is_empty() {
                count_only_rows += row_groups
                    .iter()
                    .map(|&g| u64::try_from(meta.metadata().row_group(g).num_rows()).unwrap_or(0))
                    .sum::<u64>();
                continue;
            }
            parts.push_back(FilePart {
                path,
                meta,
                row_groups,
            });
        }
        Ok(Self {
            table_schema,
            output_schema,
            projection,
            batch_size: batch_size.max(1),
            remaining: limit,
            parts,
            current: None,
            count_only_rows,
        })
    }

    fn open(&self, part: FilePart) -> Result<OpenFile> {
        let shown = part.path.display().to_string();
        let roots = column_roots(
            part.meta.schema(),
            &self.table_schema,
            &self.projection,
            &shown,
        )?;
        let mut decoded = roots.clone();
        decoded.sort_unstable();
        decoded.dedup();
        let slots = roots
            .iter()
            .map(|r| decoded.binary_search(r).unwrap_or_default())
            .collect();
        let file = File::open(&part.path).map_err(|e| Error::io(&shown, e))?;
        let mask = ProjectionMask::roots(part.meta.parquet_schema(), decoded.iter().copied());
        let mut builder = ParquetRecordBatchReaderBuilder::new_with_metadata(file, part.meta)
            .with_row_groups(part.row_groups)
            .with_projection(mask)
            .with_batch_size(self.batch_size);
        if let Some(limit) = self.remaining {
            builder = builder.with_limit(limit);
        }
        let reader = builder.build().map_err(|source| Error::Parquet {
            path: shown.clone(),
            source,
        })?;
        tracing::debug!(file = %shown, "reading Parquet file");
        Ok(OpenFile {
            shown,
            reader,
            slots,
        })
    }

    fn to_output(&self, file: &OpenFile, batch: &RecordBatch) -> Result<RecordBatch> {
        let strict = CastOptions {
            safe: false,
            ..Default::default()
        };
        let columns = file
            .slots
            .iter()
            .zip(self.output_schema.fields())
            .map(|(&s, field)| {
                let column = batch.column(s);
                if column.data_type() == field.data_type() {
                    Ok(Arc::clone(column))
                } else {
                    cast_with_options(column, field.data_type(), &strict).map_err(|e| {
                        Error::arrow(
                            format!("file {}: reading column {}", file.shown, field.name()),
                            e,
                        )
                    })
                }
            })
            .collect::<Result<Vec<ArrayRef>>>()?;
        RecordBatch::try_new_with_options(
            Arc::clone(&self.output_schema),
            columns,
            &RecordBatchOptions::new().with_row_count(Some(batch.num_rows())),
        )
        .map_err(|e| Error::arrow(format!("file {}", file.shown), e))
    }

    fn next_count_only(&mut self) -> Result<Option<RecordBatch>> {
        let mut rows = self.count_only_rows.min(self.batch_size as u64) as usize;
        if let Some(remaining) = self.remaining {
            rows = rows.min(remaining);
        }
        if rows == 0 {
            return Ok(None);
        }
        self.count_only_rows -= rows as u64;
        RecordBatch::try_new_with_options(
            Arc::clone(&self.output_schema),
            vec![],
            &RecordBatchOptions::new().with_row_count(Some(rows)),
        )
        .map(Some)
        .map_err(|e| Error::arrow("building a batch", e))
    }
}

impl FormatReader for ParquetReader {
    fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        if self.projection.is_empty() {
            return self.next_count_only();
        }
        loop {
            if self.remaining == Some(0) {
                return Ok(None);
            }
            let mut file = match self.current.take() {
                Some(file) => file,
                None => {
                    let Some(part) = self.parts.pop_front() else {
                        return Ok(None);
                    };
                    self.open(part)?
                }
            };
            match file.reader.next() {
                Some(Ok(batch)) => {
                    let out = self.to_output(&file, &batch)?;
                    self.current = Some(file);
                    if let Some(r) = self.remaining.as_mut() {
                        *r = r.saturating_sub(out.num_rows());
                    }
                    return Ok(Some(out));
                }
                Some(Err(e)) => {
                    return Err(Error::arrow(format!("file {}", file.shown), e));
                }
                None => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::{Array, Date32Array, Int32Array, Int64Array, StringArray};
    use arrow::datatypes::Field;
    use parquet::arrow::ArrowWriter;
    use parquet::file::properties::WriterProperties;
    use tidewater_runtime::source::Connector;

    use super::*;
    use crate::file::FileConnector;
    use crate::file::test_util::{count, ctx, drain, opts, scan, sorted_rows, spec};

    /// Writes `rows` rows (id, name, day) in row groups of `group` rows.
    fn write_parquet(path: &Path, first_id: i32, rows: i32, group: usize) {
        let ids: Vec<i32> = (first_id..first_id + rows).collect();
        let batch = RecordBatch::try_from_iter([
            ("id", Arc::new(Int32Array::from(ids.clone())) as ArrayRef),
            (
                "name",
                Arc::new(StringArray::from_iter(
                    ids.iter().map(|i| (i % 5 != 0).then(|| format!("n{i}"))),
                )) as ArrayRef,
            ),
            ("day", Arc::new(Date32Array::from(ids.clone())) as ArrayRef),
        ])
        .unwrap();
        let props = WriterProperties::builder()
            .set_max_row_group_row_count(Some(group))
            .build();
        let file = File::create(path).unwrap();
        let mut writer = ArrowWriter::try_new(file, batch.schema(), Some(props)).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
    }

    #[test]
    fn reports_the_file_schema_faithfully() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        write_parquet(&path, 0, 10, 4);
        let (schema, batches) = scan(&[("path", path.to_str().unwrap())], None).unwrap();
        assert_eq!(
            schema.as_ref(),
            &Schema::new(vec![
                Field::new("id", DataType::Int32, false),
                Field::new("name", DataType::Utf8, true),
                Field::new("day", DataType::Date32, false),
            ])
        );
        assert_eq!(count(&batches), 10);
    }

    #[test]
    fn view_columns_are_read_as_plain_strings_and_binaries() {
        use arrow::array::{BinaryViewArray, StringViewArray};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.parquet");
        let batch = RecordBatch::try_from_iter([
            (
                "s",
                Arc::new(StringViewArray::from(vec![
                    Some("a long enough string value"),
                    None,
                ])) as ArrayRef,
            ),
            (
                "b",
                Arc::new(BinaryViewArray::from(vec![
                    b"xy".as_slice(),
                    b"z".as_slice(),
                ])) as ArrayRef,
            ),
        ])
        .unwrap();
        let mut writer =
            ArrowWriter::try_new(File::create(&path).unwrap(), batch.schema(), None).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();

        let (schema, batches) = scan(&[("path", path.to_str().unwrap())], None).unwrap();
        assert_eq!(schema.field(0).data_type(), &DataType::Utf8);
        assert_eq!(schema.field(1).data_type(), &DataType::Binary);
        let s = batches[0]
            .column(0)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        assert_eq!(s.value(0), "a long enough string value");
        assert!(s.is_null(1));
        let b = batches[0]
            .column(1)
            .as_any()
            .downcast_ref::<arrow::array::BinaryArray>()
            .unwrap();
        assert_eq!(b.value(0), b"xy");
        assert_eq!(b.value(1), b"z");
    }

    #[test]
    fn projection_limit_and_count_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        write_parquet(&path, 0, 100, 30);
        let options = opts(&[("path", path.to_str().unwrap())]);
        let schema = FileConnector.validate(&options, None).unwrap();

        // Reversed projection, batches of 16.
        let s = spec(options.clone(), &schema, Some(vec![2, 0]), None);
        let batches = drain(FileConnector.open(&s, &ctx(0, 1, 16)).unwrap(), &s).unwrap();
        assert_eq!(count(&batches), 100);
        assert!(batches.iter().all(|b| b.num_rows() <= 16));
        let ids = batches[0]
            .column(1)
            .as_any()
            .downcast_ref::<Int32Array>()
            .unwrap();
        assert_eq!(ids.value(0), 0);

        // A limit stops early.
        let s = spec(options.clone(), &schema, Some(vec![0]), Some(37));
        let batches = drain(FileConnector.open(&s, &ctx(0, 1, 16)).unwrap(), &s).unwrap();
        assert_eq!(count(&batches), 37);

        // No columns: row counts only.
        let s = spec(options.clone(), &schema, Some(vec![]), None);
        let batches = drain(FileConnector.open(&s, &ctx(0, 1, 16)).unwrap(), &s).unwrap();
        assert_eq!(count(&batches), 100);
        let s = spec(options, &schema, Some(vec![]), Some(5));
        let batches = drain(FileConnector.open(&s, &ctx(0, 1, 16)).unwrap(), &s).unwrap();
        assert_eq!(count(&batches), 5);
    }

    #[test]
    fn row_groups_are_split_across_workers() {
        let dir = tempfile::tempdir().unwrap();
        write_parquet(&dir.path().join("a.parquet"), 0, 50, 10);
        write_parquet(&dir.path().join("b.parquet"), 50, 25, 10);
        let options = opts(&[
            ("path", dir.path().to_str().unwrap()),
            ("format", "parquet"),
        ]);
        let schema = FileConnector.validate(&options, None).unwrap();
        let s = spec(options, &schema, None, None);
        let all = drain(FileConnector.open(&s, &ctx(0, 1, 1000)).unwrap(), &s).unwrap();
        let w0 = drain(FileConnector.open(&s, &ctx(0, 2, 1000)).unwrap(), &s).unwrap();
        let w1 = drain(FileConnector.open(&s, &ctx(1, 2, 1000)).unwrap(), &s).unwrap();
        // 8 row groups: 5 in a.parquet, 3 in b.parquet, alternating workers.
        assert_eq!(count(&w0), 40);
        assert_eq!(count(&w1), 35);
        let mut union = sorted_rows(&w0);
        union.extend(sorted_rows(&w1));
        union.sort();
        assert_eq!(union, sorted_rows(&all));
        assert_eq!(count(&all), 75);
    }

    #[test]
    fn declared_columns_are_matched_by_name_and_cast() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        write_parquet(&path, 0, 10, 100);
        let p = path.to_str().unwrap();
        let declared = Arc::new(Schema::new(vec![
            Field::new("NAME", DataType::Utf8View, true),
            Field::new("id", DataType::Int64, true),
        ]));
        let (_, batches) = scan(&[("path", p)], Some(declared)).unwrap();
        let ids = batches[0]
            .column(1)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        assert_eq!(ids.value(9), 9);
        assert_eq!(batches[0].column(0).data_type(), &DataType::Utf8View);

        let missing = Arc::new(Schema::new(vec![Field::new(
            "price",
            DataType::Float64,
            true,
        )]));
        let e = scan(&[("path", p)], Some(missing)).unwrap_err();
        assert_eq!(
            e.message,
            format!("file {p}: has no column price (its columns: id, name, day)")
        );

        let wrong = Arc::new(Schema::new(vec![Field::new("name", DataType::Int64, true)]));
        let e = scan(&[("path", p)], Some(wrong)).unwrap_err();
        assert_eq!(
            e.message,
            format!("file {p}: column name has type text (Utf8), which cannot be read as bigint")
        );
    }

    #[test]
    fn files_must_agree_and_be_parquet() {
        let dir = tempfile::tempdir().unwrap();
        write_parquet(&dir.path().join("a.parquet"), 0, 5, 10);
        let other = dir.path().join("b.parquet");
        let batch =
            RecordBatch::try_from_iter([("id", Arc::new(Int64Array::from(vec![1])) as ArrayRef)])
                .unwrap();
        let mut writer =
            ArrowWriter::try_new(File::create(&other).unwrap(), batch.schema(), None).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
        let e = scan(
            &[
                ("path", dir.path().to_str().unwrap()),
                ("format", "parquet"),
            ],
            None,
        )
        .unwrap_err();
        let first = dir.path().join("a.parquet");
        assert_eq!(
            e.message,
            format!(
                "file {}: column id has type Int64, but it has type Int32 in {}",
                other.display(),
                first.display()
            )
        );

        let not_parquet = dir.path().join("c.parquet");
        std::fs::write(&not_parquet, "id\n1\n").unwrap();
        let e = scan(&[("path", not_parquet.to_str().unwrap())], None).unwrap_err();
        assert!(
            e.message
                .starts_with(&format!("file {}: ", not_parquet.display())),
            "{}",
            e.message
        );
    }
}

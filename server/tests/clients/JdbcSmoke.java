// What a JDBC application does against Tidewater through pgjdbc (Debian's
// libpostgresql-jdbc-java): run by server/tests/clients_jdbc.rs as
//
//     java -cp <classes>:/usr/share/java/postgresql.jar JdbcSmoke <jdbc url> <group>
//
// on a fresh server. Group `query`: DDL, PreparedStatement inserts and
// queries with parameters of each type (run past pgjdbc's prepareThreshold,
// so both unnamed and named server statements with binary results are
// used), typed getters, ResultSetMetaData, batches, NULLs and errors.
// Group `metadata`: DatabaseMetaData getTables, getColumns, getSchemas,
// getPrimaryKeys and getTypeInfo. Every check runs even when an earlier
// one failed; each prints `ok <name>` or `FAIL <name>: <what>`, and the
// exit status is 1 when any failed. The expected values are what
// PostgreSQL 15 answers.

import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.Date;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.sql.Types;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

public final class JdbcSmoke {
    /** A check: throws when what it checks does not hold. */
    private interface Check {
        void run() throws Exception;
    }

    private static final List<String> failures = new ArrayList<>();

    private static void check(String name, Check check) {
        try {
            check.run();
            System.out.println("ok   " + name);
        } catch (Throwable t) {
            failures.add(name);
            System.out.println("FAIL " + name + ": " + describe(t));
        }
    }

    private static String describe(Throwable t) {
        StringBuilder out = new StringBuilder(t.toString());
        if (t instanceof SQLException) {
            out.append(" [SQLSTATE ").append(((SQLException) t).getSQLState()).append("]");
        }
        if (!(t instanceof AssertionError)) {
            for (StackTraceElement e : t.getStackTrace()) {
                if (e.getClassName().startsWith("JdbcSmoke")) {
                    out.append("\n       at ").append(e);
                }
            }
        }
        for (Throwable c = t.getCause(); c != null; c = c.getCause()) {
            out.append("\n       caused by ").append(c);
        }
        return out.toString();
    }

    private static void eq(Object expected, Object actual, String what) {
        if (!Objects.equals(expected, actual)) {
            throw new AssertionError(what + ": expected <" + expected + "> but got <" + actual + ">");
        }
    }

    private static void truth(boolean condition, String what) {
        if (!condition) {
            throw new AssertionError(what);
        }
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            System.err.println("usage: JdbcSmoke <jdbc url> query|metadata");
            System.exit(2);
        }
        try (Connection conn = DriverManager.getConnection(args[0])) {
            switch (args[1]) {
                case "query":
                    query(conn);
                    break;
                case "metadata":
                    metadata(conn);
                    break;
                default:
                    System.err.println("unknown group " + args[1]);
                    System.exit(2);
            }
        }
        if (!failures.isEmpty()) {
            System.out.println(failures.size() + " check(s) failed: " + failures);
            System.exit(1);
        }
        System.out.println("all checks passed");
    }

    // ---- group `query` ------------------------------------------------------

    private static final int ROWS = 12;

    private static BigDecimal price(int i) {
        return new BigDecimal("12.34").add(BigDecimal.valueOf(i));
    }

    private static LocalDate born(int i) {
        return LocalDate.of(2024, 1, 1).plusDays(i);
    }

    private static LocalDateTime seen(int i) {
        return LocalDateTime.of(2024, 2, 29, 23, 59, 0).plusSeconds(i).plusNanos(i * 1000L);
    }

    private static void query(Connection conn) throws SQLException {
        check("create table", () -> {
            try (Statement st = conn.createStatement()) {
                st.execute("CREATE TABLE jdbc_items (id integer NOT NULL, big bigint, name text, "
                        + "price numeric(10,2), weight double precision, active boolean, born date, seen timestamp)");
            }
        });

        // Rows 0..ROWS-1 with values (date and timestamp through
        // setObject(LocalDate / LocalDateTime), which sends them typed).
        check("insert with PreparedStatement", () -> {
            String sql = "INSERT INTO jdbc_items (id, big, name, price, weight, active, born, seen) "
                    + "VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
            try (PreparedStatement ps = conn.prepareStatement(sql)) {
                for (int i = 0; i < ROWS; i++) {
                    ps.setInt(1, i);
                    ps.setLong(2, 10_000_000_000L + i);
                    ps.setString(3, i == 3 ? "it's \"é\" ✓" : "item-" + i);
                    ps.setBigDecimal(4, price(i));
                    ps.setDouble(5, i * 0.5);
                    ps.setBoolean(6, i % 2 == 0);
                    ps.setObject(7, born(i));
                    ps.setObject(8, seen(i));
                    eq(1, ps.executeUpdate(), "update count of insert " + i);
                }
            }
        });

        // setDate and setTimestamp send text of unspecified type with a
        // zone suffix ("2024-01-01 +00"), which the server types from the
        // context and reads as date / timestamp (ignoring the zone).
        check("setDate and setTimestamp parameters", () -> {
            String insert = "INSERT INTO jdbc_items (id, born, seen) VALUES (?, ?, ?)";
            try (PreparedStatement ps = conn.prepareStatement(insert)) {
                for (int i = 200; i < 203; i++) {
                    ps.setInt(1, i);
                    ps.setDate(2, Date.valueOf(born(i)));
                    ps.setTimestamp(3, Timestamp.valueOf(seen(i)));
                    eq(1, ps.executeUpdate(), "update count of insert " + i);
                }
            }
            String select = "SELECT id, born, seen FROM jdbc_items WHERE born = ? AND seen = ?";
            try (PreparedStatement ps = conn.prepareStatement(select)) {
                for (int run = 0; run < 7; run++) {
                    ps.setDate(1, Date.valueOf(born(201)));
                    ps.setTimestamp(2, Timestamp.valueOf(seen(201)));
                    try (ResultSet rs = ps.executeQuery()) {
                        truth(rs.next(), "run " + run + ": no row");
                        eq(201, rs.getInt(1), "run " + run + " id");
                        eq(Date.valueOf(born(201)), rs.getDate(2), "run " + run + " getDate");
                        eq(Timestamp.valueOf(seen(201)), rs.getTimestamp(3), "run " + run + " getTimestamp");
                        truth(!rs.next(), "run " + run + ": more than one row");
                    }
                }
            }
        });

        check("insert NULLs with setNull", () -> {
            String sql = "INSERT INTO jdbc_items VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
            try (PreparedStatement ps = conn.prepareStatement(sql)) {
                ps.setInt(1, 100);
                ps.setNull(2, Types.BIGINT);
                ps.setNull(3, Types.VARCHAR);
                ps.setNull(4, Types.NUMERIC);
                ps.setNull(5, Types.DOUBLE);
                ps.setNull(6, Types.BOOLEAN);
                ps.setNull(7, Types.DATE);
                ps.setNull(8, Types.TIMESTAMP);
                eq(1, ps.executeUpdate(), "update count");
            }
        });

        // Ten executions of one PreparedStatement: pgjdbc switches to a
        // named server statement and binary results after five.
        check("parameterized query with typed getters (10 executions)", () -> {
            String sql = "SELECT id, big, name, price, weight, active, born, seen FROM jdbc_items "
                    + "WHERE id >= ? AND id < ? AND big > ? AND price > ? AND weight >= ? ORDER BY id";
            try (PreparedStatement ps = conn.prepareStatement(sql)) {
                for (int run = 0; run < 10; run++) {
                    ps.setInt(1, 2);
                    ps.setInt(2, 9);
                    ps.setLong(3, 10_000_000_000L);
                    ps.setBigDecimal(4, new BigDecimal("0.5"));
                    ps.setDouble(5, 0.0);
                    List<Integer> ids = new ArrayList<>();
                    try (ResultSet rs = ps.executeQuery()) {
                        while (rs.next()) {
                            int i = rs.getInt("id");
                            ids.add(i);
                            String at = "run " + run + " row " + i + " ";
                            eq(10_000_000_000L + i, rs.getLong("big"), at + "getLong(big)");
                            eq(i == 3 ? "it's \"é\" ✓" : "item-" + i, rs.getString("name"), at + "getString(name)");
                            eq(price(i), rs.getBigDecimal("price"), at + "getBigDecimal(price)");
                            eq(i * 0.5, rs.getDouble("weight"), at + "getDouble(weight)");
                            eq(i % 2 == 0, rs.getBoolean("active"), at + "getBoolean(active)");
                            eq(Date.valueOf(born(i)), rs.getDate("born"), at + "getDate(born)");
                            eq(born(i), rs.getObject("born", LocalDate.class), at + "getObject(born, LocalDate)");
                            eq(Timestamp.valueOf(seen(i)), rs.getTimestamp("seen"), at + "getTimestamp(seen)");
                            eq(seen(i), rs.getObject("seen", LocalDateTime.class), at + "getObject(seen, LocalDateTime)");
                            eq(Integer.valueOf(i), rs.getObject("id"), at + "getObject(id)");
                            eq(Long.valueOf(10_000_000_000L + i), rs.getObject("big"), at + "getObject(big)");
                            eq(Boolean.valueOf(i % 2 == 0), rs.getObject("active"), at + "getObject(active)");
                        }
                    }
                    eq(Arrays.asList(2, 3, 4, 5, 6, 7, 8), ids, "run " + run + " ids");
                }
            }
        });

        check("parameters of each type in the WHERE clause", () -> {
            String sql = "SELECT id FROM jdbc_items WHERE name = ? AND active = ? AND born = ? AND seen = ? "
                    + "AND price = ? AND weight = ?";
            try (PreparedStatement ps = conn.prepareStatement(sql)) {
                for (int run = 0; run < 7; run++) {
                    ps.setString(1, "item-4");
                    ps.setBoolean(2, true);
                    ps.setObject(3, born(4));
                    ps.setObject(4, seen(4));
                    ps.setBigDecimal(5, price(4));
                    ps.setDouble(6, 2.0);
                    try (ResultSet rs = ps.executeQuery()) {
                        truth(rs.next(), "run " + run + ": no row");
                        eq(4, rs.getInt(1), "run " + run + " id");
                        truth(!rs.next(), "run " + run + ": more than one row");
                    }
                }
            }
        });

        check("NULLs read back with wasNull", () -> {
            String sql = "SELECT big, name, price, weight, active, born, seen FROM jdbc_items WHERE id = ?";
            try (PreparedStatement ps = conn.prepareStatement(sql)) {
                for (int run = 0; run < 7; run++) {
                    ps.setInt(1, 100);
                    try (ResultSet rs = ps.executeQuery()) {
                        truth(rs.next(), "run " + run + ": no row");
                        eq(0L, rs.getLong(1), "getLong of NULL");
                        truth(rs.wasNull(), "wasNull after getLong");
                        eq(null, rs.getString(2), "getString of NULL");
                        eq(null, rs.getBigDecimal(3), "getBigDecimal of NULL");
                        eq(0.0, rs.getDouble(4), "getDouble of NULL");
                        truth(rs.wasNull(), "wasNull after getDouble");
                        eq(false, rs.getBoolean(5), "getBoolean of NULL");
                        truth(rs.wasNull(), "wasNull after getBoolean");
                        eq(null, rs.getDate(6), "getDate of NULL");
                        eq(null, rs.getTimestamp(7), "getTimestamp of NULL");
                    }
                }
            }
        });

        check("expressions over parameters", () -> {
            try (PreparedStatement ps = conn.prepareStatement(
                    "SELECT ? + 1 AS a, ? || '!' AS b, ?::integer IS NULL AS c, ? * 2 AS d")) {
                ps.setInt(1, 41);
                ps.setString(2, "hi");
                ps.setNull(3, Types.INTEGER);
                ps.setBigDecimal(4, new BigDecimal("1.25"));
                try (ResultSet rs = ps.executeQuery()) {
                    truth(rs.next(), "no row");
                    eq(42, rs.getInt("a"), "a");
                    eq("hi!", rs.getString("b"), "b");
                    eq(true, rs.getBoolean("c"), "c");
                    eq(new BigDecimal("2.50"), rs.getBigDecimal("d"), "d");
                }
            }
        });

        check("ResultSetMetaData", () -> {
            try (PreparedStatement ps = conn.prepareStatement(
                    "SELECT id, big, name, price, weight, active, born, seen FROM jdbc_items WHERE id = ?")) {
                ps.setInt(1, 1);
                try (ResultSet rs = ps.executeQuery()) {
                    ResultSetMetaData md = rs.getMetaData();
                    eq(8, md.getColumnCount(), "column count");
                    String[] names = {"id", "big", "name", "price", "weight", "active", "born", "seen"};
                    int[] types = {Types.INTEGER, Types.BIGINT, Types.VARCHAR, Types.NUMERIC, Types.DOUBLE,
                        Types.BIT, Types.DATE, Types.TIMESTAMP};
                    String[] typeNames = {"int4", "int8", "text", "numeric", "float8", "bool", "date", "timestamp"};
                    for (int c = 1; c <= 8; c++) {
                        eq(names[c - 1], md.getColumnName(c), "getColumnName(" + c + ")");
                        eq(names[c - 1], md.getColumnLabel(c), "getColumnLabel(" + c + ")");
                        eq(types[c - 1], md.getColumnType(c), "getColumnType(" + c + ")");
                        eq(typeNames[c - 1], md.getColumnTypeName(c), "getColumnTypeName(" + c + ")");
                    }
                }
            }
        });

        // From the type modifier, table OID and column number that
        // RowDescription carries for a column of a table.
        check("ResultSetMetaData of table columns", () -> {
            try (PreparedStatement ps = conn.prepareStatement("SELECT id, name, price FROM jdbc_items WHERE id = ?")) {
                ps.setInt(1, 1);
                try (ResultSet rs = ps.executeQuery()) {
                    ResultSetMetaData md = rs.getMetaData();
                    eq("jdbc_items", md.getTableName(1), "getTableName(id)");
                    eq(ResultSetMetaData.columnNoNulls, md.isNullable(1), "isNullable(id)");
                    eq(ResultSetMetaData.columnNullable, md.isNullable(2), "isNullable(name)");
                    eq(10, md.getPrecision(3), "getPrecision(price)");
                    eq(2, md.getScale(3), "getScale(price)");
                }
            }
        });

        check("batch insert", () -> {
            try (PreparedStatement ps = conn.prepareStatement("INSERT INTO jdbc_items (id, name) VALUES (?, ?)")) {
                for (int i = 0; i < 50; i++) {
                    ps.setInt(1, 1000 + i);
                    ps.setString(2, "batch-" + i);
                    ps.addBatch();
                }
                int[] counts = ps.executeBatch();
                eq(50, counts.length, "batch results");
                for (int c : counts) {
                    truth(c == 1 || c == Statement.SUCCESS_NO_INFO, "batch update count " + c);
                }
            }
            try (Statement st = conn.createStatement();
                    ResultSet rs = st.executeQuery("SELECT count(*), min(name), max(id) FROM jdbc_items WHERE id >= 1000")) {
                truth(rs.next(), "no row");
                eq(50L, rs.getLong(1), "count(*)");
                eq("batch-0", rs.getString(2), "min(name)");
                eq(1049, rs.getInt(3), "max(id)");
            }
        });

        check("aggregates with Statement", () -> {
            try (Statement st = conn.createStatement();
                    ResultSet rs = st.executeQuery(
                            "SELECT count(*), sum(price), avg(weight), bool_and(active) FROM jdbc_items WHERE id < 100")) {
                truth(rs.next(), "no row");
                eq((long) ROWS, rs.getLong(1), "count(*)");
                BigDecimal sum = BigDecimal.ZERO;
                double weights = 0;
                for (int i = 0; i < ROWS; i++) {
                    sum = sum.add(price(i));
                    weights += i * 0.5;
                }
                eq(0, sum.compareTo(rs.getBigDecimal(2)), "sum(price) " + rs.getBigDecimal(2) + " vs " + sum);
                eq(weights / ROWS, rs.getDouble(3), "avg(weight)");
                eq(false, rs.getBoolean(4), "bool_and(active)");
            }
        });

        check("an error leaves the connection usable", () -> {
            try (Statement st = conn.createStatement()) {
                try {
                    st.executeQuery("SELECT * FROM no_such_table");
                    throw new AssertionError("query on a missing table succeeded");
                } catch (SQLException e) {
                    eq("42P01", e.getSQLState(), "SQLSTATE of a missing table (" + e.getMessage() + ")");
                }
                try (ResultSet rs = st.executeQuery("SELECT 1")) {
                    truth(rs.next(), "no row");
                    eq(1, rs.getInt(1), "SELECT 1");
                }
            }
            try (PreparedStatement ps = conn.prepareStatement("SELECT id FROM jdbc_items WHERE id = 10 / ?")) {
                ps.setInt(1, 0);
                try {
                    ps.executeQuery();
                    throw new AssertionError("a division by zero succeeded");
                } catch (SQLException e) {
                    eq("22012", e.getSQLState(), "SQLSTATE of a division by zero (" + e.getMessage() + ")");
                }
                ps.setInt(1, 2);
                try (ResultSet rs = ps.executeQuery()) {
                    truth(rs.next(), "no row after the error");
                    eq(5, rs.getInt(1), "id");
                }
            }
        });
    }

    // ---- group `metadata` ---------------------------------------------------

    /** Rows of a metadata result set as name -> value maps, in order. */
    private static List<Map<String, Object>> rows(ResultSet rs, String... columns) throws SQLException {
        List<Map<String, Object>> out = new ArrayList<>();
        try (rs) {
            while (rs.next()) {
                Map<String, Object> row = new LinkedHashMap<>();
                for (String c : columns) {
                    row.put(c, rs.getObject(c));
                }
                out.add(row);
            }
        }
        return out;
    }

    /** One column of metadata rows. */
    private static List<Object> column(List<Map<String, Object>> rows, String name) {
        List<Object> out = new ArrayList<>();
        for (Map<String, Object> row : rows) {
            out.add(row.get(name));
        }
        return out;
    }

    private static void metadata(Connection conn) throws SQLException {
        check("create schema, tables and a view", () -> {
            try (Statement st = conn.createStatement()) {
                st.execute("CREATE SCHEMA jdbc_s");
                st.execute("CREATE TABLE jdbc_meta (id bigint PRIMARY KEY, name text NOT NULL, "
                        + "price numeric(10,2), weight double precision, active boolean, born date, "
                        + "seen timestamp, qty integer)");
                st.execute("CREATE TABLE jdbc_s.other (x integer)");
                st.execute("CREATE VIEW jdbc_view AS SELECT id, name FROM jdbc_meta");
            }
        });
        DatabaseMetaData md = conn.getMetaData();

        check("getDatabaseProductName", () -> eq("PostgreSQL", md.getDatabaseProductName(), "product name"));

        check("getTables(null, \"public\", \"%\", {TABLE})", () -> {
            List<Map<String, Object>> rows = rows(md.getTables(null, "public", "%", new String[] {"TABLE"}),
                    "TABLE_CAT", "TABLE_SCHEM", "TABLE_NAME", "TABLE_TYPE");
            Map<String, Object> expected = new LinkedHashMap<>();
            expected.put("TABLE_CAT", null);
            expected.put("TABLE_SCHEM", "public");
            expected.put("TABLE_NAME", "jdbc_meta");
            expected.put("TABLE_TYPE", "TABLE");
            eq(List.of(expected), rows, "tables of public");
        });

        check("getTables(null, \"public\", \"%\", {VIEW})", () -> {
            List<Map<String, Object>> rows = rows(md.getTables(null, "public", "%", new String[] {"VIEW"}),
                    "TABLE_SCHEM", "TABLE_NAME", "TABLE_TYPE");
            eq(List.of("jdbc_view"), column(rows, "TABLE_NAME"), "views of public");
            eq(List.of("VIEW"), column(rows, "TABLE_TYPE"), "their type");
        });

        check("getTables(null, null, \"%\", {TABLE, VIEW})", () -> {
            List<Map<String, Object>> rows = rows(md.getTables(null, null, "%", new String[] {"TABLE", "VIEW"}),
                    "TABLE_SCHEM", "TABLE_NAME", "TABLE_TYPE");
            // Ordered by TABLE_TYPE, TABLE_SCHEM, TABLE_NAME.
            eq(List.of("jdbc_s.other:TABLE", "public.jdbc_meta:TABLE", "public.jdbc_view:VIEW"),
                    rows.stream().map(r -> r.get("TABLE_SCHEM") + "." + r.get("TABLE_NAME") + ":" + r.get("TABLE_TYPE"))
                            .collect(java.util.stream.Collectors.toList()),
                    "tables and views");
        });

        check("getTables with a name pattern", () -> {
            List<Map<String, Object>> rows = rows(md.getTables(null, "jdbc\\_s", "oth%", null), "TABLE_NAME");
            eq(List.of("other"), column(rows, "TABLE_NAME"), "tables named oth% in jdbc_s");
        });

        check("getColumns(null, \"public\", \"jdbc_meta\", \"%\")", () -> {
            List<Map<String, Object>> rows = rows(md.getColumns(null, "public", "jdbc_meta", "%"),
                    "TABLE_SCHEM", "TABLE_NAME", "COLUMN_NAME", "DATA_TYPE", "TYPE_NAME", "ORDINAL_POSITION",
                    "NULLABLE", "IS_NULLABLE", "COLUMN_SIZE", "DECIMAL_DIGITS");
            eq(List.of("id", "name", "price", "weight", "active", "born", "seen", "qty"),
                    column(rows, "COLUMN_NAME"), "COLUMN_NAME");
            eq(List.of(Types.BIGINT, Types.VARCHAR, Types.NUMERIC, Types.DOUBLE, Types.BIT, Types.DATE,
                    Types.TIMESTAMP, Types.INTEGER), column(rows, "DATA_TYPE"), "DATA_TYPE");
            eq(List.of("int8", "text", "numeric", "float8", "bool", "date", "timestamp", "int4"),
                    column(rows, "TYPE_NAME"), "TYPE_NAME");
            eq(List.of(1, 2, 3, 4, 5, 6, 7, 8), column(rows, "ORDINAL_POSITION"), "ORDINAL_POSITION");
            eq(List.of("NO", "NO", "YES", "YES", "YES", "YES", "YES", "YES"), column(rows, "IS_NULLABLE"),
                    "IS_NULLABLE");
            eq(List.of(DatabaseMetaData.columnNoNulls, DatabaseMetaData.columnNoNulls,
                    DatabaseMetaData.columnNullable, DatabaseMetaData.columnNullable,
                    DatabaseMetaData.columnNullable, DatabaseMetaData.columnNullable,
                    DatabaseMetaData.columnNullable, DatabaseMetaData.columnNullable),
                    column(rows, "NULLABLE"), "NULLABLE");
            eq(19, rows.get(0).get("COLUMN_SIZE"), "COLUMN_SIZE of bigint");
            eq(10, rows.get(2).get("COLUMN_SIZE"), "COLUMN_SIZE of numeric(10,2)");
            eq(2, rows.get(2).get("DECIMAL_DIGITS"), "DECIMAL_DIGITS of numeric(10,2)");
            eq(10, rows.get(7).get("COLUMN_SIZE"), "COLUMN_SIZE of integer");
            eq(List.of("public"), new ArrayList<>(new java.util.LinkedHashSet<>(column(rows, "TABLE_SCHEM"))),
                    "TABLE_SCHEM");
        });

        check("getColumns of a view", () -> {
            List<Map<String, Object>> rows = rows(md.getColumns(null, "public", "jdbc_view", null),
                    "COLUMN_NAME", "TYPE_NAME");
            eq(List.of("id", "name"), column(rows, "COLUMN_NAME"), "COLUMN_NAME");
            eq(List.of("int8", "text"), column(rows, "TYPE_NAME"), "TYPE_NAME");
        });

        check("getSchemas()", () -> {
            List<Map<String, Object>> rows = rows(md.getSchemas(), "TABLE_SCHEM", "TABLE_CATALOG");
            List<Object> names = column(rows, "TABLE_SCHEM");
            for (String s : new String[] {"information_schema", "jdbc_s", "pg_catalog", "public"}) {
                truth(names.contains(s), "schema " + s + " missing from " + names);
            }
            List<Object> sorted = new ArrayList<>(names);
            sorted.sort((a, b) -> ((String) a).compareTo((String) b));
            eq(sorted, names, "schemas ordered by name");
        });

        check("getSchemas(null, \"jdbc%\")", () -> {
            List<Map<String, Object>> rows = rows(md.getSchemas(null, "jdbc%"), "TABLE_SCHEM");
            eq(List.of("jdbc_s"), column(rows, "TABLE_SCHEM"), "schemas like jdbc%");
        });

        check("getPrimaryKeys(null, \"public\", \"jdbc_meta\")", () -> {
            List<Map<String, Object>> rows = rows(md.getPrimaryKeys(null, "public", "jdbc_meta"),
                    "TABLE_SCHEM", "TABLE_NAME", "COLUMN_NAME", "KEY_SEQ", "PK_NAME");
            eq(1, rows.size(), "primary key columns " + rows);
            eq("public", rows.get(0).get("TABLE_SCHEM"), "TABLE_SCHEM");
            eq("jdbc_meta", rows.get(0).get("TABLE_NAME"), "TABLE_NAME");
            eq("id", rows.get(0).get("COLUMN_NAME"), "COLUMN_NAME");
            eq(1, ((Number) rows.get(0).get("KEY_SEQ")).intValue(), "KEY_SEQ");
            eq("jdbc_meta_pkey", rows.get(0).get("PK_NAME"), "PK_NAME");
        });

        check("getPrimaryKeys of a table without one", () -> {
            List<Map<String, Object>> rows = rows(md.getPrimaryKeys(null, "jdbc_s", "other"), "COLUMN_NAME");
            eq(List.of(), rows, "primary key columns");
        });

        check("getTypeInfo()", () -> {
            Map<String, Object> dataTypes = new LinkedHashMap<>();
            try (ResultSet rs = md.getTypeInfo()) {
                while (rs.next()) {
                    dataTypes.put(rs.getString("TYPE_NAME"), rs.getObject("DATA_TYPE"));
                }
            }
            Object[][] expected = {
                {"int2", Types.SMALLINT}, {"int4", Types.INTEGER}, {"int8", Types.BIGINT},
                {"float4", Types.REAL}, {"float8", Types.DOUBLE}, {"numeric", Types.NUMERIC},
                {"bool", Types.BIT}, {"text", Types.VARCHAR}, {"varchar", Types.VARCHAR},
                {"date", Types.DATE}, {"timestamp", Types.TIMESTAMP}, {"bytea", Types.BINARY},
            };
            for (Object[] e : expected) {
                eq(e[1], dataTypes.get((String) e[0]), "DATA_TYPE of " + e[0] + " (of " + dataTypes.size() + " types)");
            }
        });

        check("getCatalogs()", () -> {
            List<Map<String, Object>> rows = rows(md.getCatalogs(), "TABLE_CAT");
            truth(column(rows, "TABLE_CAT").contains("tidewater"), "database tidewater missing from " + rows);
        });
    }
}

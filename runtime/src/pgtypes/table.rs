//! The rows of Postgres 15's `pg_type` that Tidewater knows, as text.

/// The built-in types of Postgres 15 except array types (derived from
/// their elements by [`pg_types`]), one per line:
/// `oid typname namespace(p: pg_catalog, i: information_schema) typlen
/// typbyval typtype typcategory typispreferred typdelim typsubscript typelem
/// typarray typinput typoutput typreceive typsend typmodin typmodout
/// typanalyze typalign typstorage typcollation typbasetype typtypmod`.
/// Generated from `pg_type` of a Postgres 15 server (types of kind b, p, r
/// and m in `pg_catalog`, and the domains of `information_schema`).
pub(super) const TYPE_TABLE: &str = "\
16 bool p 1 t b B t , - 0 1000 boolin boolout boolrecv boolsend - - - c p 0 0 -1
17 bytea p -1 f b U f , - 0 1001 byteain byteaout bytearecv byteasend - - - i x 0 0 -1
18 char p 1 t b Z f , - 0 1002 charin charout charrecv charsend - - - c p 0 0 -1
19 name p 64 f b S f , raw_array_subscript_handler 18 1003 namein nameout namerecv namesend - - - c p 950 0 -1
20 int8 p 8 t b N f , - 0 1016 int8in int8out int8recv int8send - - - d p 0 0 -1
21 int2 p 2 t b N f , - 0 1005 int2in int2out int2recv int2send - - - s p 0 0 -1
22 int2vector p -1 f b A f , array_subscript_handler 21 1006 int2vectorin int2vectorout int2vectorrecv int2vectorsend - - - i p 0 0 -1
23 int4 p 4 t b N f , - 0 1007 int4in int4out int4recv int4send - - - i p 0 0 -1
24 regproc p 4 t b N f , - 0 1008 regprocin regprocout regprocrecv regprocsend - - - i p 0 0 -1
25 text p -1 f b S t , - 0 1009 textin textout textrecv textsend - - - i x 100 0 -1
26 oid p 4 t b N t , - 0 1028 oidin oidout oidrecv oidsend - - - i p 0 0 -1
27 tid p 6 f b U f , - 0 1010 tidin tidout tidrecv tidsend - - - s p 0 0 -1
28 xid p 4 t b U f , - 0 1011 xidin xidout xidrecv xidsend - - - i p 0 0 -1
29 cid p 4 t b U f , - 0 1012 cidin cidout cidrecv cidsend - - - i p 0 0 -1
30 oidvector p -1 f b A f , array_subscript_handler 26 1013 oidvectorin oidvectorout oidvectorrecv oidvectorsend - - - i p 0 0 -1
32 pg_ddl_command p 8 t p P f , - 0 0 pg_ddl_command_in pg_ddl_command_out pg_ddl_command_recv pg_ddl_command_send - - - d p 0 0 -1
114 json p -1 f b U f , - 0 199 json_in json_out json_recv json_send - - - i x 0 0 -1
142 xml p -1 f b U f , - 0 143 xml_in xml_out xml_recv xml_send - - - i x 0 0 -1
194 pg_node_tree p -1 f b Z f , - 0 0 pg_node_tree_in pg_node_tree_out pg_node_tree_recv pg_node_tree_send - - - i x 100 0 -1
269 table_am_handler p 4 t p P f , - 0 0 table_am_handler_in table_am_handler_out - - - - - i p 0 0 -1
325 index_am_handler p 4 t p P f , - 0 0 index_am_handler_in index_am_handler_out - - - - - i p 0 0 -1
600 point p 16 f b G f , raw_array_subscript_handler 701 1017 point_in point_out point_recv point_send - - - d p 0 0 -1
601 lseg p 32 f b G f , raw_array_subscript_handler 600 1018 lseg_in lseg_out lseg_recv lseg_send - - - d p 0 0 -1
602 path p -1 f b G f , - 0 1019 path_in path_out path_recv path_send - - - d x 0 0 -1
603 box p 32 f b G f ; raw_array_subscript_handler 600 1020 box_in box_out box_recv box_send - - - d p 0 0 -1
604 polygon p -1 f b G f , - 0 1027 poly_in poly_out poly_recv poly_send - - - d x 0 0 -1
628 line p 24 f b G f , raw_array_subscript_handler 701 629 line_in line_out line_recv line_send - - - d p 0 0 -1
650 cidr p -1 f b I f , - 0 651 cidr_in cidr_out cidr_recv cidr_send - - - i m 0 0 -1
700 float4 p 4 t b N f , - 0 1021 float4in float4out float4recv float4send - - - i p 0 0 -1
701 float8 p 8 t b N t , - 0 1022 float8in float8out float8recv float8send - - - d p 0 0 -1
705 unknown p -2 f p X f , - 0 0 unknownin unknownout unknownrecv unknownsend - - - c p 0 0 -1
718 circle p 24 f b G f , - 0 719 circle_in circle_out circle_recv circle_send - - - d p 0 0 -1
774 macaddr8 p 8 f b U f , - 0 775 macaddr8_in macaddr8_out macaddr8_recv macaddr8_send - - - i p 0 0 -1
790 money p 8 t b N f , - 0 791 cash_in cash_out cash_recv cash_send - - - d p 0 0 -1
829 macaddr p 6 f b U f , - 0 1040 macaddr_in macaddr_out macaddr_recv macaddr_send - - - i p 0 0 -1
869 inet p -1 f b I t , - 0 1041 inet_in inet_out inet_recv inet_send - - - i m 0 0 -1
1033 aclitem p 12 f b U f , - 0 1034 aclitemin aclitemout - - - - - i p 0 0 -1
1042 bpchar p -1 f b S f , - 0 1014 bpcharin bpcharout bpcharrecv bpcharsend bpchartypmodin bpchartypmodout - i x 100 0 -1
1043 varchar p -1 f b S f , - 0 1015 varcharin varcharout varcharrecv varcharsend varchartypmodin varchartypmodout - i x 100 0 -1
1082 date p 4 t b D f , - 0 1182 date_in date_out date_recv date_send - - - i p 0 0 -1
1083 time p 8 t b D f , - 0 1183 time_in time_out time_recv time_send timetypmodin timetypmodout - d p 0 0 -1
1114 timestamp p 8 t b D f , - 0 1115 timestamp_in timestamp_out timestamp_recv timestamp_send timestamptypmodin timestamptypmodout - d p 0 0 -1
1184 timestamptz p 8 t b D t , - 0 1185 timestamptz_in timestamptz_out timestamptz_recv timestamptz_send timestamptztypmodin timestamptztypmodout - d p 0 0 -1
1186 interval p 16 f b T t , - 0 1187 interval_in interval_out interval_recv interval_send intervaltypmodin intervaltypmodout - d p 0 0 -1
1266 timetz p 12 f b D f , - 0 1270 timetz_in timetz_out timetz_recv timetz_send timetztypmodin timetztypmodout - d p 0 0 -1
1560 bit p -1 f b V f , - 0 1561 bit_in bit_out bit_recv bit_send bittypmodin bittypmodout - i x 0 0 -1
1562 varbit p -1 f b V t , - 0 1563 varbit_in varbit_out varbit_recv varbit_send varbittypmodin varbittypmodout - i x 0 0 -1
1700 numeric p -1 f b N f , - 0 1231 numeric_in numeric_out numeric_recv numeric_send numerictypmodin numerictypmodout - i m 0 0 -1
1790 refcursor p -1 f b U f , - 0 2201 textin textout textrecv textsend - - - i x 0 0 -1
2202 regprocedure p 4 t b N f , - 0 2207 regprocedurein regprocedureout regprocedurerecv regproceduresend - - - i p 0 0 -1
2203 regoper p 4 t b N f , - 0 2208 regoperin regoperout regoperrecv regopersend - - - i p 0 0 -1
2204 regoperator p 4 t b N f , - 0 2209 regoperatorin regoperatorout regoperatorrecv regoperatorsend - - - i p 0 0 -1
2205 regclass p 4 t b N f , - 0 2210 regclassin regclassout regclassrecv regclasssend - - - i p 0 0 -1
2206 regtype p 4 t b N f , - 0 2211 regtypein regtypeout regtyperecv regtypesend - - - i p 0 0 -1
2249 record p -1 f p P f , - 0 2287 record_in record_out record_recv record_send - - - d x 0 0 -1
2275 cstring p -2 f p P f , - 0 1263 cstring_in cstring_out cstring_recv cstring_send - - - c p 0 0 -1
2276 any p 4 t p P f , - 0 0 any_in any_out - - - - - i p 0 0 -1
2277 anyarray p -1 f p P f , - 0 0 anyarray_in anyarray_out anyarray_recv anyarray_send - - - d x 0 0 -1
2278 void p 4 t p P f , - 0 0 void_in void_out void_recv void_send - - - i p 0 0 -1
2279 trigger p 4 t p P f , - 0 0 trigger_in trigger_out - - - - - i p 0 0 -1
2280 language_handler p 4 t p P f , - 0 0 language_handler_in language_handler_out - - - - - i p 0 0 -1
2281 internal p 8 t p P f , - 0 0 internal_in internal_out - - - - - d p 0 0 -1
2283 anyelement p 4 t p P f , - 0 0 anyelement_in anyelement_out - - - - - i p 0 0 -1
2776 anynonarray p 4 t p P f , - 0 0 anynonarray_in anynonarray_out - - - - - i p 0 0 -1
2950 uuid p 16 f b U f , - 0 2951 uuid_in uuid_out uuid_recv uuid_send - - - c p 0 0 -1
2970 txid_snapshot p -1 f b U f , - 0 2949 txid_snapshot_in txid_snapshot_out txid_snapshot_recv txid_snapshot_send - - - d x 0 0 -1
3115 fdw_handler p 4 t p P f , - 0 0 fdw_handler_in fdw_handler_out - - - - - i p 0 0 -1
3220 pg_lsn p 8 t b U f , - 0 3221 pg_lsn_in pg_lsn_out pg_lsn_recv pg_lsn_send - - - d p 0 0 -1
3310 tsm_handler p 4 t p P f , - 0 0 tsm_handler_in tsm_handler_out - - - - - i p 0 0 -1
3361 pg_ndistinct p -1 f b Z f , - 0 0 pg_ndistinct_in pg_ndistinct_out pg_ndistinct_recv pg_ndistinct_send - - - i x 100 0 -1
3402 pg_dependencies p -1 f b Z f , - 0 0 pg_dependencies_in pg_dependencies_out pg_dependencies_recv pg_dependencies_send - - - i x 100 0 -1
3500 anyenum p 4 t p P f , - 0 0 anyenum_in anyenum_out - - - - - i p 0 0 -1
3614 tsvector p -1 f b U f , - 0 3643 tsvectorin tsvectorout tsvectorrecv tsvectorsend - - ts_typanalyze i x 0 0 -1
3615 tsquery p -1 f b U f , - 0 3645 tsqueryin tsqueryout tsqueryrecv tsquerysend - - - i p 0 0 -1
3642 gtsvector p -1 f b U f , - 0 3644 gtsvectorin gtsvectorout - - - - - i p 0 0 -1
3734 regconfig p 4 t b N f , - 0 3735 regconfigin regconfigout regconfigrecv regconfigsend - - - i p 0 0 -1
3769 regdictionary p 4 t b N f , - 0 3770 regdictionaryin regdictionaryout regdictionaryrecv regdictionarysend - - - i p 0 0 -1
3802 jsonb p -1 f b U f , jsonb_subscript_handler 0 3807 jsonb_in jsonb_out jsonb_recv jsonb_send - - - i x 0 0 -1
3831 anyrange p -1 f p P f , - 0 0 anyrange_in anyrange_out - - - - - d x 0 0 -1
3838 event_trigger p 4 t p P f , - 0 0 event_trigger_in event_trigger_out - - - - - i p 0 0 -1
3904 int4range p -1 f r R f , - 0 3905 range_in range_out range_recv range_send - - range_typanalyze i x 0 0 -1
3906 numrange p -1 f r R f , - 0 3907 range_in range_out range_recv range_send - - range_typanalyze i x 0 0 -1
3908 tsrange p -1 f r R f , - 0 3909 range_in range_out range_recv range_send - - range_typanalyze d x 0 0 -1
3910 tstzrange p -1 f r R f , - 0 3911 range_in range_out range_recv range_send - - range_typanalyze d x 0 0 -1
3912 daterange p -1 f r R f , - 0 3913 range_in range_out range_recv range_send - - range_typanalyze i x 0 0 -1
3926 int8range p -1 f r R f , - 0 3927 range_in range_out range_recv range_send - - range_typanalyze d x 0 0 -1
4072 jsonpath p -1 f b U f , - 0 4073 jsonpath_in jsonpath_out jsonpath_recv jsonpath_send - - - i x 0 0 -1
4089 regnamespace p 4 t b N f , - 0 4090 regnamespacein regnamespaceout regnamespacerecv regnamespacesend - - - i p 0 0 -1
4096 regrole p 4 t b N f , - 0 4097 regrolein regroleout regrolerecv regrolesend - - - i p 0 0 -1
4191 regcollation p 4 t b N f , - 0 4192 regcollationin regcollationout regcollationrecv regcollationsend - - - i p 0 0 -1
4451 int4multirange p -1 f m R f , - 0 6150 multirange_in multirange_out multirange_recv multirange_send - - multirange_typanalyze i x 0 0 -1
4532 nummultirange p -1 f m R f , - 0 6151 multirange_in multirange_out multirange_recv multirange_send - - multirange_typanalyze i x 0 0 -1
4533 tsmultirange p -1 f m R f , - 0 6152 multirange_in multirange_out multirange_recv multirange_send - - multirange_typanalyze d x 0 0 -1
4534 tstzmultirange p -1 f m R f , - 0 6153 multirange_in multirange_out multirange_recv multirange_send - - multirange_typanalyze d x 0 0 -1
4535 datemultirange p -1 f m R f , - 0 6155 multirange_in multirange_out multirange_recv multirange_send - - multirange_typanalyze i x 0 0 -1
4536 int8multirange p -1 f m R f , - 0 6157 multirange_in multirange_out multirange_recv multirange_send - - multirange_typanalyze d x 0 0 -1
4537 anymultirange p -1 f p P f , - 0 0 anymultirange_in anymultirange_out - - - - - d x 0 0 -1
4538 anycompatiblemultirange p -1 f p P f , - 0 0 anycompatiblemultirange_in anycompatiblemultirange_out - - - - - d x 0 0 -1
4600 pg_brin_bloom_summary p -1 f b Z f , - 0 0 brin_bloom_summary_in brin_bloom_summary_out brin_bloom_summary_recv brin_bloom_summary_send - - - i x 100 0 -1
4601 pg_brin_minmax_multi_summary p -1 f b Z f , - 0 0 brin_minmax_multi_summary_in brin_minmax_multi_summary_out brin_minmax_multi_summary_recv brin_minmax_multi_summary_send - - - i x 100 0 -1
5017 pg_mcv_list p -1 f b Z f , - 0 0 pg_mcv_list_in pg_mcv_list_out pg_mcv_list_recv pg_mcv_list_send - - - i x 100 0 -1
5038 pg_snapshot p -1 f b U f , - 0 5039 pg_snapshot_in pg_snapshot_out pg_snapshot_recv pg_snapshot_send - - - d x 0 0 -1
5069 xid8 p 8 t b U f , - 0 271 xid8in xid8out xid8recv xid8send - - - d p 0 0 -1
5077 anycompatible p 4 t p P f , - 0 0 anycompatible_in anycompatible_out - - - - - i p 0 0 -1
5078 anycompatiblearray p -1 f p P f , - 0 0 anycompatiblearray_in anycompatiblearray_out anycompatiblearray_recv anycompatiblearray_send - - - d x 0 0 -1
5079 anycompatiblenonarray p 4 t p P f , - 0 0 anycompatiblenonarray_in anycompatiblenonarray_out - - - - - i p 0 0 -1
5080 anycompatiblerange p -1 f p P f , - 0 0 anycompatiblerange_in anycompatiblerange_out - - - - - d x 0 0 -1
13221 cardinal_number i 4 t d N f , - 0 13220 domain_in int4out domain_recv int4send - - - i p 0 23 -1
13224 character_data i -1 f d S f , - 0 13223 domain_in varcharout domain_recv varcharsend - - - i x 950 1043 -1
13226 sql_identifier i 64 f d S f , - 0 13225 domain_in nameout domain_recv namesend - - - c p 950 19 -1
13232 time_stamp i 8 t d D f , - 0 13231 domain_in timestamptz_out domain_recv timestamptz_send - - - d p 0 1184 2
13234 yes_or_no i -1 f d S f , - 0 13233 domain_in varcharout domain_recv varcharsend - - - i x 950 1043 7
";

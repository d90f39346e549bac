"""CSV time series: headers, time columns, column choice, ordering, gaps, and errors naming file and line."""
import os

import numpy as np
import pytest

from rnnkit.data.csv_series import read_csv_series


def write(tmp_path, text, name="series.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def statsmodels_csv(name):
    """A real CSV file that statsmodels ships (its datasets are public domain); skipped without it."""
    statsmodels = pytest.importorskip("statsmodels", reason="statsmodels (the bench extra) holds the real CSV files")
    path = os.path.join(os.path.dirname(statsmodels.__file__), "datasets", name, f"{name}.csv")
    if not os.path.exists(path):
        pytest.skip(f"statsmodels {statsmodels.__version__} does not ship {name}.csv")
    return path


def test_header_and_time_column_are_detected(tmp_path):
    path = write(tmp_path, "date,load,temp\n2024-01-01,10,1.5\n2024-01-02,12,-0.5\n2024-01-03,11,0\n")
    s = read_csv_series(path)
    assert s.columns == ["load", "temp"]
    assert s.times == ["2024-01-01", "2024-01-02", "2024-01-03"]
    np.testing.assert_array_equal(s.values, [[10, 1.5], [12, -0.5], [11, 0]])
    assert s.values.dtype == np.float64


def test_no_header_and_a_leading_date_column(tmp_path):
    path = write(tmp_path, "2024-01-01,10\n2024-01-02,12\n")
    s = read_csv_series(path)
    assert s.columns == ["column 1"] and s.times == ["2024-01-01", "2024-01-02"]
    np.testing.assert_array_equal(s.values, [[10], [12]])
    # all-numeric rows: no header and no time column unless told
    s = read_csv_series(write(tmp_path, "1,10\n2,12\n", "plain.csv"))
    assert s.times is None and s.values.shape == (2, 2)
    s = read_csv_series(write(tmp_path, "1,10\n2,12\n", "plain.csv"), time_column=0)
    assert s.times == ["1", "2"] and s.values.tolist() == [[10], [12]]


def test_columns_by_name_or_index_and_text_columns_skipped(tmp_path):
    path = write(tmp_path, "id,a,b,c\nx,1,2,3\ny,4,5,6\n")
    assert read_csv_series(path).columns == ["a", "b", "c"]          # "id" holds no numbers
    s = read_csv_series(path, columns=["c", 1])
    assert s.columns == ["c", "a"] and s.values.tolist() == [[3, 1], [6, 4]]
    with pytest.raises(ValueError, match=r"series.csv: no column 'd'; columns are \['id', 'a', 'b', 'c'\]"):
        read_csv_series(path, columns=["d"])
    with pytest.raises(ValueError, match="column index 7 is out of range; the file has 4 columns"):
        read_csv_series(path, columns=[7])


def test_time_column_orders_rows_when_asked(tmp_path):
    path = write(tmp_path, "year,v\n2003,3\n2001,1\n2002,2\n")
    assert read_csv_series(path).values[:, 0].tolist() == [3, 1, 2]              # file order by default
    s = read_csv_series(path, sort_by_time=True)
    assert s.values[:, 0].tolist() == [1, 2, 3] and s.times == ["2001", "2002", "2003"]
    dates = write(tmp_path, "when;v\n2024/03/01 10:00;3\n2024/01/01 00:00;1\n", "dates.csv")
    assert read_csv_series(dates, time_column="when", sort_by_time=True).values[:, 0].tolist() == [1, 3]
    dup = write(tmp_path, "year,v\n2001,1\n2002,2\n2001,3\n", "dup.csv")
    with pytest.raises(ValueError, match=r"dup.csv: lines 2 and 4 have the same time '2001'"):
        read_csv_series(dup, sort_by_time=True)
    bad = write(tmp_path, "year,v\n2001,1\nsoon,2\n", "bad.csv")
    with pytest.raises(ValueError, match=r"bad.csv:3: time column \(column 1\): expected a number or an ISO date"):
        read_csv_series(bad, time_column="year", sort_by_time=True)


def test_delimiters_bom_comments_quotes_and_blank_lines(tmp_path):
    path = write(tmp_path, "# exported\n\"a\"\t\"b\"\n\n1\t2\n# note\n3\t4\n\n", encoding="utf-8-sig")
    s = read_csv_series(path)
    assert s.columns == ["a", "b"] and s.values.tolist() == [[1, 2], [3, 4]]
    assert read_csv_series(write(tmp_path, "a;b\n1;2\n", "semi.csv")).values.tolist() == [[1, 2]]


def test_missing_values_are_an_error_naming_file_line_and_column(tmp_path):
    path = write(tmp_path, "t,a,b\n1,1,10\n2,NA,20\n3,3,\n4,4,40\n")
    with pytest.raises(ValueError, match=r"series.csv:3: missing value in column 'a' \(column 2\)"):
        read_csv_series(path)
    filled = read_csv_series(path, missing="interpolate").values
    np.testing.assert_allclose(filled, [[1, 10], [2, 20], [3, 30], [4, 40]])
    np.testing.assert_allclose(read_csv_series(path, missing="ffill").values, [[1, 10], [1, 20], [3, 20], [4, 40]])
    lead = write(tmp_path, "a\n\n?\n5\n7\n", "lead.csv")          # a leading gap takes the first value
    assert read_csv_series(lead, header=True, missing="ffill").values[:, 0].tolist() == [5, 5, 7]
    with pytest.raises(ValueError, match="missing must be one of"):
        read_csv_series(path, missing="zero")


@pytest.mark.parametrize("text, message", [
    ("a,b\n1,2\n3,x7\n", r"series.csv:3: column 'b' \(column 2\): expected a number, got 'x7'"),
    ("a,b\n1,2\n3\n", r"series.csv:3: expected 2 cells like line 1, got 1"),
    ("a,b\n1,2\n3,inf\n", r"series.csv:3: column 'b' \(column 2\): expected a finite number"),
    ("", r"series.csv: no data"),
    ("# only a comment\n\n", r"series.csv: no data"),
    ("a,b\n", r"series.csv: the header \(line 1\) is followed by no data rows"),
    ("name,city\nx,y\n", r"series.csv: no numeric columns"),
])
def test_malformed_files_name_file_and_line(tmp_path, text, message):
    with pytest.raises(ValueError, match=message):
        read_csv_series(write(tmp_path, text))


def test_unreadable_files(tmp_path):
    with pytest.raises(ValueError, match=r"nothere.csv: cannot read"):
        read_csv_series(tmp_path / "nothere.csv")
    with pytest.raises(ValueError, match=r"latin.csv: not UTF-8"):
        read_csv_series(write(tmp_path, "a\n\u00e9\n", "latin.csv", encoding="latin-1"))
    with pytest.raises(ValueError, match="the time column; it cannot also be a channel"):
        read_csv_series(write(tmp_path, "year,v\n1,2\n"), columns=["year"])


def test_real_sunspots_csv():
    s = read_csv_series(statsmodels_csv("sunspots"))          # "YEAR","SUNACTIVITY", quoted header
    assert s.columns == ["SUNACTIVITY"] and s.times[0] == "1700" and s.values.shape == (309, 1)
    assert s.values[:3, 0].tolist() == [5, 11, 16]


def test_real_co2_csv_has_gaps():
    path = statsmodels_csv("co2")                              # weekly, with empty cells
    with pytest.raises(ValueError, match=r"co2.csv:8: missing value in column 'co2'"):
        read_csv_series(path)
    s = read_csv_series(path, missing="ffill")
    assert s.times[0] == "19580329" and not np.isnan(s.values).any() and len(s.values) > 2000

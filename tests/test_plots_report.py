"""The report and index pages of plots/ (report.py, index.py): numbers rounded to what they mean, units in the
headers, and index.html over a folder of runs with their differing config keys and headline numbers.
Run by CTest as `python3 -m unittest tests.test_plots_report` from the source root."""
import json
import os
import tempfile
import unittest

from plots import index, report


def write_json(path, value):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(value, f)


class ReportText(unittest.TestCase):
    def test_headers_carry_units(self):
        self.assertEqual(report.label("train_seconds"), "train_seconds (s)")
        self.assertEqual(report.label("minutes"), "minutes (min)")
        self.assertEqual(report.label("step_ms"), "step_ms (ms)")
        self.assertEqual(report.label("test_mse"), "test_mse")

    def test_numbers_are_rounded_to_four_significant_digits(self):
        self.assertEqual(report.number_text(0.01666666666667), "0.01667")
        self.assertEqual(report.number_text(123456.789), "1.235e+05")
        self.assertEqual(report.number_text(12), "12")
        self.assertEqual(report.number_text(None), "n/a")
        self.assertEqual(report.number_text(list(range(20))), "20 values, 0 to 19")
        self.assertEqual(report.rounded({"a": [0.123456, {"b": 2.0 / 3}]}), {"a": [0.1235, {"b": 0.6667}]})

    def test_metrics_tables_show_rounded_numbers_under_labelled_headers(self):
        page = report.metrics_tables({"minutes": 0.1234567, "final": {"train_seconds": 7.0000001}})
        self.assertIn("<th>minutes (min)</th><td>0.1235</td>", page)
        self.assertIn("<th>train_seconds (s)</th><td>7</td>", page)
        self.assertNotIn("0.1234567", page)


class Index(unittest.TestCase):
    def test_runs_side_by_side_with_their_differing_keys(self):
        with tempfile.TemporaryDirectory() as folder:
            for k, mse in ((16, 0.0212345678), (4, 0.0456789012)):
                run = os.path.join(folder, f"k_{k}")
                write_json(os.path.join(run, "run.json"), {"kind": "train"})
                write_json(os.path.join(run, "config.json"), {"model": {"code_dim": k}, "training": {"lr": 0.001}})
                write_json(os.path.join(run, "metrics.json"), {"final": {"test_mse": mse, "minutes": 0.5}})
            open(os.path.join(folder, "k_4", "report.html"), "w").close()
            os.makedirs(os.path.join(folder, "not_a_run"))

            self.assertTrue(index.write_index(folder))
            with open(os.path.join(folder, "index.html")) as f:
                page = f.read()
            self.assertIn("<th>model.code_dim</th>", page)
            self.assertNotIn("training.lr", page)  # the same in every run: counted, not shown
            self.assertIn("the other 1 keys are the same", page)
            self.assertIn("<th>minutes (min)</th>", page)
            self.assertIn("<td>0.02123</td>", page)
            self.assertNotIn("0.0212345678", page)
            self.assertIn('<a href="k_4/report.html">k_4</a>', page)
            self.assertNotIn('href="k_16/report.html"', page)  # no report there, no link
            self.assertNotIn("not_a_run", page)
            self.assertLess(page.index(">k_4<"), page.index(">k_16<"))  # natural order: 4 before 16

    def test_a_folder_without_runs_gets_no_index(self):
        with tempfile.TemporaryDirectory() as folder:
            self.assertFalse(index.write_index(folder))
            self.assertFalse(os.path.exists(os.path.join(folder, "index.html")))


if __name__ == "__main__":
    unittest.main()

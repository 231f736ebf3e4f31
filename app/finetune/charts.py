"""A small live line chart (QtCharts) for the training page: loss per step, Dice per epoch."""

from __future__ import annotations

import math

from PySide6.QtCharts import QChart, QChartView, QLineSeries, QValueAxis
from PySide6.QtCore import QMargins, QPointF, Qt
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QApplication


def _nice_step(raw: float) -> float:
    """The smallest of 1, 2, 5, 10, 20, 50, … at least `raw`: whole-number ticks (steps and
    epochs are counts)."""
    magnitude = 1
    while True:
        for m in (1, 2, 5):
            if m * magnitude >= raw:
                return float(m * magnitude)
        magnitude *= 10


class LiveChart(QChartView):
    def __init__(self, title: str, x_label: str, y_label: str, color: str, markers=False):
        chart = QChart()
        app = QApplication.instance()
        dark = app is None or app.property("carmask_theme") != "light"
        chart.setTheme(
            QChart.ChartTheme.ChartThemeDark if dark else QChart.ChartTheme.ChartThemeLight
        )
        chart.setTitle(title)
        chart.legend().hide()
        chart.setMargins(QMargins(4, 4, 4, 4))
        chart.setBackgroundRoundness(0)
        super().__init__(chart)
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setMinimumHeight(180)
        self.series = QLineSeries()
        self.series.setPen(QPen(QColor(color), 2))
        self.markers = markers
        self.series.setPointsVisible(markers)
        chart.addSeries(self.series)
        self.x_axis, self.y_axis = QValueAxis(), QValueAxis()
        self.x_axis.setTitleText(x_label)
        self.y_axis.setTitleText(y_label)
        self.x_axis.setLabelFormat("%d")
        self.x_axis.setTickType(QValueAxis.TickType.TicksDynamic)
        self.x_axis.setTickAnchor(0)
        chart.addAxis(self.x_axis, Qt.AlignmentFlag.AlignBottom)
        chart.addAxis(self.y_axis, Qt.AlignmentFlag.AlignLeft)
        self.series.attachAxis(self.x_axis)
        self.series.attachAxis(self.y_axis)
        self.clear()

    def clear(self) -> None:
        self.series.clear()
        self._lo, self._hi = math.inf, -math.inf
        self.x_axis.setRange(0, 1)
        self.y_axis.setRange(0, 1)

    def count(self) -> int:
        return self.series.count()

    def add(self, x: float, y: float) -> None:
        if not math.isfinite(y):
            return
        self.series.append(QPointF(x, y))
        # a line needs two points: the first step's loss is drawn as a dot until the second
        self.series.setPointsVisible(self.markers or self.series.count() == 1)
        self._lo, self._hi = min(self._lo, y), max(self._hi, y)
        # the first dot in the middle, not on the chart's edge
        right = max(1.0, x) * (2 if self.series.count() == 1 else 1)
        self.x_axis.setRange(0, right)
        self.x_axis.setTickInterval(_nice_step(right / 5))
        pad = max((self._hi - self._lo) * 0.08, 1e-4)
        self.y_axis.setRange(self._lo - pad, self._hi + pad)

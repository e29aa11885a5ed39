"""The insights area: metrics summary, provider comparison, breakdowns and heatmap under the control-plane filter."""

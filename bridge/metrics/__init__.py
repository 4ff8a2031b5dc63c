"""The recovery metrics: each case judged into facts (``facts``, cached by ``cache``), the report
over them (``report``, shaped by ``model``), and their Prometheus exposition (``prom`` for the
recovery figures, ``ops`` for the queue and delivery gauges)."""

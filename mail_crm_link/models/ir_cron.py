from odoo import api, fields, models

from ..services.record_factory import GATHER_KEY, CronWakeups


class IrCron(models.Model):
    _inherit = "ir.cron"

    def _trigger_list(self, at_list):
        """Inside a linking batch, a wake-up is noted instead of written: every lead created
        asks for its enrichment cron (``crm_iap_enrich``), and each request is a trigger row
        plus, after the commit, a new connection to the ``postgres`` database to notify the
        cron workers (9 ms per lead). The batch asks once, at its end. Records that leave
        the batch with its context ask as usual again (the wake-ups are closed)."""
        wakeups = self.env.context.get(GATHER_KEY)
        if not isinstance(wakeups, CronWakeups) or not wakeups.open:
            return super()._trigger_list(at_list)
        for cron in self:
            wakeups.asked.setdefault(cron.id, []).extend(at_list)
        return self.env["ir.cron.trigger"]

    @api.model
    def _mcl_trigger_gathered(self, wakeups):
        """Close ``wakeups`` and ask each of its crons once: one wake-up as soon as possible
        for all the moments already due, and each later moment as it was asked."""
        wakeups.open = False
        now = fields.Datetime.now()
        for cron_id, at_list in wakeups.asked.items():
            due = [at for at in at_list if at <= now]
            later = sorted({at for at in at_list if at > now})
            self.browse(cron_id)._trigger_list(([max(due)] if due else []) + later)

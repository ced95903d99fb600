DROP TRIGGER invoice_lines_refresh_total ON invoice_lines;
DROP FUNCTION refresh_invoice_total();

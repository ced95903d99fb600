DROP TABLE invoice_lines;
DROP TABLE invoices;
DROP TYPE invoice_status;

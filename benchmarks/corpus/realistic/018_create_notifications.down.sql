DROP TABLE notifications;
DROP FUNCTION notify_new_notification();

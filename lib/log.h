/*
 * Logging.  A file defines LR_LOG_COMPONENT before including this header; the
 * macros check the level before evaluating their arguments.
 */
#ifndef LR_LOG_H
#define LR_LOG_H

enum lr_log_level {
	LR_LOG_ERROR, LR_LOG_WARN, LR_LOG_NOTICE, LR_LOG_INFO, LR_LOG_DEBUG
};

#ifndef LR_LOG_COMPONENT
#define LR_LOG_COMPONENT "leura"
#endif

extern int lr_log_level_cur;

void	lr_log_set_level(int level);
void	lr_log_emit(int level, const char *component, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

#define LR_LOG_(lvl, ...) do {						\
	if ((lvl) <= lr_log_level_cur)					\
		lr_log_emit((lvl), LR_LOG_COMPONENT, __VA_ARGS__);	\
} while (0)
#define lr_log_error(...)	LR_LOG_(LR_LOG_ERROR, __VA_ARGS__)
#define lr_log_warn(...)	LR_LOG_(LR_LOG_WARN, __VA_ARGS__)
#define lr_log_notice(...)	LR_LOG_(LR_LOG_NOTICE, __VA_ARGS__)
#define lr_log_info(...)	LR_LOG_(LR_LOG_INFO, __VA_ARGS__)
#define lr_log_debug(...)	LR_LOG_(LR_LOG_DEBUG, __VA_ARGS__)

#endif

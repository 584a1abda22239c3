using System.Collections;
using System.Globalization;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Callern.Platform.Infrastructure;

/// <summary>
/// The platform's logger factory: the standard one (the same providers, filters and configuration)
/// behind a layer that every record passes through before any provider sees it.
/// <list type="bullet">
/// <item>Messages, structured values, scopes and exception texts go through <see cref="LogRedaction"/>.</item>
/// <item>A <see cref="HubException"/> is the coded answer a hub client asked for (<c>invalid_argument</c>,
/// <c>rate_limited</c>, …), not a fault of the server: SignalR logs it as an error with a stack trace;
/// here it becomes a Debug line without one, so a flooding client cannot fill the log.</item>
/// </list>
/// </summary>
public sealed class RedactingLoggerFactory(ILoggerFactory inner, LogRedaction redaction) : ILoggerFactory
{
    public ILogger CreateLogger(string categoryName) => new RedactingLogger(inner.CreateLogger(categoryName), redaction);

    public void AddProvider(ILoggerProvider provider) => inner.AddProvider(provider);

    public void Dispose() => inner.Dispose();

    private sealed class RedactingLogger(ILogger inner, LogRedaction redaction) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => state switch
        {
            string text => inner.BeginScope(redaction.Redact(text)),
            IReadOnlyList<KeyValuePair<string, object?>> values => inner.BeginScope(new RedactedState(values, null, redaction)),
            _ => inner.BeginScope(state),
        };

        public bool IsEnabled(LogLevel logLevel) => inner.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var hubRefusal = exception is HubException && logLevel > LogLevel.Debug;
            if (hubRefusal)
            {
                if (!inner.IsEnabled(LogLevel.Debug))
                {
                    return;
                }
                logLevel = LogLevel.Debug;
            }
            else if (!inner.IsEnabled(logLevel))
            {
                return; // not formatted, not redacted: nothing would read it
            }
            var text = formatter(state, exception);
            var message = redaction.Redact(hubRefusal ? $"{text} {exception!.Message}" : text);
            var values = state as IReadOnlyList<KeyValuePair<string, object?>> ?? [];
            var redactedException = exception is null || hubRefusal ? null : new RedactedException(redaction.Redact(exception.ToString()));
            inner.Log(logLevel, eventId, new RedactedState(values, message, redaction), redactedException, static (s, _) => s.Message ?? "");
        }
    }

    /// <summary>A record's or scope's values with every text redacted; what providers read and format.</summary>
    private sealed class RedactedState(IReadOnlyList<KeyValuePair<string, object?>> values, string? message, LogRedaction redaction)
        : IReadOnlyList<KeyValuePair<string, object?>>
    {
        private readonly KeyValuePair<string, object?>[] _values = values.Select(v => new KeyValuePair<string, object?>(v.Key, Redact(v.Value, redaction))).ToArray();

        public string? Message { get; } = message;

        public KeyValuePair<string, object?> this[int index] => _values[index];

        public int Count => _values.Length;

        public IEnumerator<KeyValuePair<string, object?>> GetEnumerator() => ((IEnumerable<KeyValuePair<string, object?>>)_values).GetEnumerator();

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

        public override string ToString() => Message ?? string.Join(", ", _values.Select(v => $"{v.Key}={v.Value}"));

        /// <summary>Numbers, dates, ids and flags cannot hold a secret and keep their type; anything else is logged as redacted text.</summary>
        private static object? Redact(object? value, LogRedaction redaction) => value switch
        {
            null or bool or Guid or DateTime or DateTimeOffset or TimeSpan or Enum => value,
            _ when value.GetType().IsPrimitive || value is decimal => value,
            string text => redaction.Redact(text),
            _ => Convert.ToString(value, CultureInfo.InvariantCulture) is { } text ? redaction.Redact(text) : null,
        };
    }

    /// <summary>An exception's text, redacted, in place of the exception (whose message and stack could carry a secret).</summary>
    private sealed class RedactedException(string text) : Exception(text)
    {
        public override string ToString() => Message;
    }
}

public static class RedactedLogging
{
    /// <summary>Puts <see cref="RedactingLoggerFactory"/> in front of the standard logger factory, whatever providers are added later.</summary>
    public static IServiceCollection AddRedactedLogging(this IServiceCollection services, IConfiguration configuration)
    {
        services.Replace(ServiceDescriptor.Singleton<ILoggerFactory>(sp => new RedactingLoggerFactory(
            new LoggerFactory(sp.GetServices<ILoggerProvider>(), sp.GetRequiredService<IOptionsMonitor<LoggerFilterOptions>>(),
                sp.GetService<IOptions<LoggerFactoryOptions>>(), sp.GetService<IExternalScopeProvider>()),
            LogRedaction.FromConfiguration(configuration))));
        return services;
    }
}

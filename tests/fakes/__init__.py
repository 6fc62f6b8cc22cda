"""Real network peers for tests: each fake listens on 127.0.0.1 (random free port) in a
background thread, and production code talks to it over a real socket.

- ``tests.fakes.webpush.FakePushService``: an RFC 8030 push service that checks VAPID
  (RFC 8292) and decrypts aes128gcm payloads (RFC 8291) with the subscription's keys.
- ``tests.fakes.twilio.FakeTwilio``: the Messages/Calls REST endpoints of Twilio, plus
  Twilio-signed webhooks towards the app (TwiML fetch, <Gather> digits, inbound SMS).
- ``tests.fakes.smtp.FakeSMTPServer``: an aiosmtpd server with optional STARTTLS and AUTH.
- ``tests.fakes.servers.WSGIServerThread``: the shared threaded WSGI runner.

Submodules are not imported here, so importing one fake does not pull in the others.
"""

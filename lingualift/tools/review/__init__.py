"""`lingualift review`: page through translated rows on 127.0.0.1, accept / edit / reject them; each
decision is committed to SQLite the moment it is made; `review export` applies them."""
